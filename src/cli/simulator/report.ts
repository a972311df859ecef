import type { ScenarioReport } from './simulation.types.js';

export const REPORT_FORMATS = ['md', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(
  report: ScenarioReport,
  format: ReportFormat,
): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'junit') return junit(report);
  return markdown(report);
}

function markdown(r: ScenarioReport): string {
  const failed = r.expectations.filter((e) => !e.passed).length;
  const lines = [
    `# Simulation \`${r.scenario}\`: ${r.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `${r.summary}. Target: ${r.target}. Started ${r.startedAt}, took ${r.durationMs} ms. ` +
      `${r.expectations.length - failed}/${r.expectations.length} expectations passed.`,
    '',
  ];
  if (r.error) lines.push(`**Stopped early:** ${r.error}`, '');
  lines.push('| | expectation | result | latency (ms) |', '|---|---|---|---|');
  for (const e of r.expectations) {
    const latency = Object.entries(e.latenciesMs)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    lines.push(
      `| ${e.passed ? '✅' : '❌'} | ${cell(e.description)} | ${cell(e.message)} | ${cell(latency || '—')} |`,
    );
  }
  const observed = r.expectations.filter((e) => e.observed.length > 0);
  if (observed.length > 0) {
    lines.push('', '## Observed PagerDuty events', '');
    for (const e of observed) {
      lines.push(`- ${e.id}:`);
      for (const o of e.observed) lines.push(`  - ${o}`);
    }
  }
  if (r.deadDeliveries.length > 0) {
    lines.push('', '## Dead deliveries', '');
    for (const d of r.deadDeliveries) {
      lines.push(
        `- ${d.deliveryId ? `#${d.deliveryId} ` : ''}${d.action} ${d.dedupKey}: ${d.error ?? 'refused'}`,
      );
    }
  }
  lines.push('', '## Steps', '', '| at (ms) | step | HTTP |', '|---|---|---|');
  for (const s of r.steps)
    lines.push(`| ${s.atMs} | ${cell(s.name)} | ${s.status ?? ''} |`);
  return `${lines.join('\n')}\n`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** JUnit XML as CI servers read it: one testcase per expectation. */
function junit(r: ScenarioReport): string {
  const failures = r.expectations.filter((e) => !e.passed).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="alerting simulate" tests="${r.expectations.length}" failures="${failures}" errors="0" time="${seconds(r.durationMs)}">`,
    `  <testsuite name="${xml(r.scenario)}" tests="${r.expectations.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(r.durationMs)}" timestamp="${xml(r.startedAt.replace(/\.\d+Z$/, ''))}" hostname="${xml(r.target)}">`,
    '    <properties>',
    `      <property name="target" value="${xml(r.target)}"/>`,
    `      <property name="summary" value="${xml(r.summary)}"/>`,
    '    </properties>',
  ];
  let previous = 0;
  for (const e of r.expectations) {
    const time = Math.max(0, e.durationMs - previous);
    previous = Math.max(previous, e.durationMs);
    out.push(
      `    <testcase classname="simulate.${xml(r.scenario)}" name="${xml(`${e.id}: ${e.description}`)}" time="${seconds(time)}">`,
    );
    if (!e.passed) {
      const dead = r.deadDeliveries.map(
        (d) => `dead: ${d.action} ${d.dedupKey}: ${d.error ?? 'refused'}`,
      );
      const body = [
        e.message,
        ...e.observed.map((o) => `observed: ${o}`),
        ...dead,
      ].join('\n');
      out.push(
        `      <failure message="${xml(e.message)}" type="ExpectationFailed">${xml(body)}</failure>`,
      );
    }
    const latencies = Object.entries(e.latenciesMs).map(
      ([k, v]) => `latency ${k}: ${v} ms`,
    );
    const details = [
      ...(e.passed
        ? [e.message, ...e.observed.map((o) => `observed: ${o}`)]
        : []),
      ...latencies,
    ];
    if (details.length > 0)
      out.push(`      <system-out>${xml(details.join('\n'))}</system-out>`);
    out.push('    </testcase>');
  }
  if (r.error)
    out.push(
      `    <system-err>${xml(`stopped early: ${r.error}`)}</system-err>`,
    );
  out.push('  </testsuite>', '</testsuites>');
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
