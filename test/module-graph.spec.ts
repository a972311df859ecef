import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** Top folder under src/ (`.` for the entry files) of every relative import, per folder. */
function folderImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const folderOf = (file: string) => {
    const rel = relative(SRC, file);
    return rel.includes('/') ? rel.split('/')[0] : '.';
  };
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(
      /(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g,
    )) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  return graph;
}

describe('the module graph', () => {
  const graph = folderImports();
  const reaches = (from: string, to: string, seen = new Set<string>()) => {
    if (seen.has(from)) return false;
    seen.add(from);
    for (const next of graph.get(from) ?? [])
      if (next === to || reaches(next, to, seen)) return true;
    return false;
  };

  it('has no folder that imports, even indirectly, a folder depending on it', () => {
    const cycles = [...graph.keys()].filter((f) => reaches(f, f));
    expect(cycles).toEqual([]);
  });

  it('points one way: edges to the core, the core to the notifier port and the database', () => {
    for (const edge of ['sns', 'cloudwatch', 'alertmanager', 'reconciler'])
      expect(reaches('alerting', edge), `alerting -> ${edge}`).toBe(false);
    for (const adapter of ['pagerduty', 'sns'])
      expect(reaches('notifier', adapter), `notifier -> ${adapter}`).toBe(
        false,
      );
    expect(reaches('pagerduty', 'alerting'), 'pagerduty -> alerting').toBe(
      false,
    );
    expect(reaches('reconciler', 'cloudwatch')).toBe(false);
    expect(reaches('database', 'alerting')).toBe(false);
    // routing plugs into the core through its port (alerting/incident-router.port.ts)
    expect(reaches('alerting', 'routing'), 'alerting -> routing').toBe(false);
    expect(reaches('reconciler', 'routing'), 'reconciler -> routing').toBe(
      false,
    );
    expect(reaches('alerting', 'notifier')).toBe(true);
  });
});
