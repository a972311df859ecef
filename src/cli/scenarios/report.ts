import type {
  ExpectationResult,
  FileReport,
  RunReport,
} from './scenario.types.js';

export const REPORT_FORMATS = ['md', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderRun(report: RunReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'junit') return junit(report);
  return markdown(report);
}

const STATUS: Record<FileReport['status'], string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  'not-runnable': '⏭️ not runnable',
  invalid: '❌ refused',
};

export function counts(report: RunReport) {
  const by = (s: FileReport['status']) =>
    report.files.filter((f) => f.status === s).length;
  return {
    passed: by('passed'),
    failed: by('failed') + by('invalid'),
    notRunnable: by('not-runnable'),
  };
}

function markdown(r: RunReport): string {
  const c = counts(r);
  const lines = [
    `# Scenarios: ${r.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `Target: ${r.target}. ${r.files.length} file(s): ${c.passed} passed, ${c.failed} failed, ${c.notRunnable} not runnable; ${r.durationMs} ms.`,
    '',
    '| file | result | expectations | took (ms) | scenario clock |',
    '|---|---|---|---|---|',
  ];
  for (const f of r.files) {
    const ok = f.expectations.filter((e) => e.passed).length;
    lines.push(
      `| ${cell(f.file)} | ${STATUS[f.status]} | ${ok}/${f.expectations.length} | ${f.durationMs} | ${formatMs(f.scenarioMs)} |`,
    );
  }
  for (const f of r.files) {
    lines.push('', `## ${f.name} (${f.file}): ${STATUS[f.status]}`, '');
    if (f.error)
      lines.push(
        `**${f.status === 'failed' ? 'Stopped' : 'Why'}:** ${f.error}`,
        '',
      );
    if (f.expectations.length === 0) continue;
    lines.push('| | step | expectation | result |', '|---|---|---|---|');
    for (const e of f.expectations)
      lines.push(
        `| ${mark(e)} | ${e.id} | ${cell(e.description)} | ${cell(e.message)} |`,
      );
    const failed = f.expectations.filter(
      (e) => !e.passed && !e.skipped && e.diff?.length,
    );
    for (const e of failed)
      lines.push('', `${e.id}: ${e.message}`, '', '```diff', ...e.diff!, '```');
  }
  return `${lines.join('\n')}\n`;
}

const mark = (e: ExpectationResult) =>
  e.skipped ? '⏭️' : e.passed ? '✅' : '❌';
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The failure text: what was expected, what came, and the field-by-field diff. */
export function failureText(e: ExpectationResult): string {
  return [
    e.message,
    ...(e.expected !== undefined
      ? [`expected: ${JSON.stringify(e.expected)}`]
      : []),
    ...(e.got !== undefined ? [`got: ${JSON.stringify(e.got)}`] : []),
    ...(e.diff ?? []),
  ].join('\n');
}

/** JUnit XML: a testsuite per file, a testcase per expectation; a file not runnable is one skipped case. */
function junit(r: RunReport): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = r.files.reduce(
    (n, f) => n + Math.max(1, f.expectations.length),
    0,
  );
  const failures = r.files.reduce(
    (n, f) => n + f.expectations.filter((e) => !e.passed && !e.skipped).length,
    0,
  );
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="alerting test" tests="${total}" failures="${failures}" errors="0" time="${seconds(r.durationMs)}">`,
  ];
  for (const f of r.files) {
    const cases = f.expectations;
    const fileFailures = cases.filter((e) => !e.passed && !e.skipped).length;
    const skipped =
      cases.filter((e) => e.skipped).length +
      (f.status === 'not-runnable' ? 1 : 0);
    const errors =
      f.status === 'invalid' ||
      (f.error && f.status === 'failed' && cases.length === 0)
        ? 1
        : 0;
    const tests = Math.max(1, cases.length);
    out.push(
      `  <testsuite name="${xml(f.name)}" file="${xml(f.file)}" tests="${tests}" failures="${fileFailures}" errors="${errors}" skipped="${skipped}" time="${seconds(f.durationMs)}" timestamp="${xml(f.startedAt.replace(/\.\d+Z$/, ''))}" hostname="${xml(f.target)}">`,
    );
    const classname = `scenario.${xml(f.file)}`;
    if (cases.length === 0) {
      out.push(
        `    <testcase classname="${classname}" name="${xml(f.name)}" time="0.000">`,
      );
      if (f.status === 'not-runnable')
        out.push(
          `      <skipped message="${xml(`not runnable: ${f.error ?? ''}`)}"/>`,
        );
      else if (f.error)
        out.push(
          `      <error message="${xml(f.error)}" type="ScenarioError">${xml(f.error)}</error>`,
        );
      out.push('    </testcase>');
    }
    let previous = 0;
    for (const e of cases) {
      const time = Math.max(0, e.atMs - previous);
      previous = Math.max(previous, e.atMs);
      out.push(
        `    <testcase classname="${classname}" name="${xml(`${e.id}: ${e.description}`)}" time="${seconds(time)}">`,
      );
      if (e.skipped) out.push(`      <skipped message="${xml(e.message)}"/>`);
      else if (!e.passed)
        out.push(
          `      <failure message="${xml(e.message)}" type="ExpectationFailed">${xml(failureText(e))}</failure>`,
        );
      else out.push(`      <system-out>${xml(e.message)}</system-out>`);
      out.push('    </testcase>');
    }
    if (f.error && cases.length > 0)
      out.push(`    <system-err>${xml(`stopped: ${f.error}`)}</system-err>`);
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

/** Escapes for text and attributes alike, and drops characters XML 1.0 cannot carry at all. */
export function xml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}
