import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The two commands the README starts with: the first code block, first two lines. */
function readmeCommands(): { start: string; test: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /```bash\n([\s\S]*?)```/.exec(readme)![1];
  const [start, test] = block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
  return { start, test };
}

/** Whether nothing listens on `port`: the README's server could not, and requests would reach the other one. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '0.0.0.0', () => probe.close(() => resolve(true)));
  });
}

describe('README start command on a fresh clone', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'alerting-clone-'));
    execFileSync('git', ['clone', '-q', ROOT, join(dir, 'repo')]);
    // `npm ci` itself is what CI runs on a clean clone; here the installed modules stand in for it
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'repo', 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves on port 3000 with ./data/alerting.sqlite, no other setup', async () => {
    const { start, test } = readmeCommands();
    expect(start).toMatch(/^npm ci && npm start$/);
    expect(test).toMatch(/^npm ci && npm test$/);
    expect(
      await portIsFree(3000),
      'port 3000 is taken by another process: stop it, the README command serves there',
    ).toBe(true);
    const repo = join(dir, 'repo');
    const child = spawn('npm', ['start'], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      let status = 0;
      for (let i = 0; i < 600 && status === 0; i++) {
        // a new alert each attempt: an attempt whose answer was lost on the way may still
        // have been stored, and this one must not be its repeat
        const alarmName = `readme-check-${i}`;
        try {
          const res = await fetch('http://127.0.0.1:3000/v1/alerts', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ severity: 'INFO', alarmName }),
          });
          status = res.status;
          expect(await res.json()).toMatchObject({
            results: [{ dedupKey: alarmName, action: 'triggered' }],
          });
        } catch (error) {
          if (status !== 0) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      expect(status, output).toBe(202);
      expect(existsSync(join(repo, 'data', 'alerting.sqlite'))).toBe(true);
      // pino writes asynchronously: on a loaded machine the boot warning can reach the
      // pipe after the first 202, so give it a moment before reading it
      for (let i = 0; i < 50 && !/API_KEYS|open|no API key/i.test(output); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(output).toMatch(/API_KEYS|open|no API key/i);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 180_000);
});
