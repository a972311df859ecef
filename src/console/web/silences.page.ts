import type { Ctx } from './app.js';
import { api, enc, type Silence } from './api.js';
import { badge, field, h, redraw, table, when } from './dom.js';
import { silenceForm } from './silence-form.js';

/** `field=value` or `field=~regex`, one a line, as the silences API reads them. */
export function parseMatchers(text: string): Record<string, unknown> | string {
  const matchers: Record<string, unknown> = {};
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0)
    return 'Give at least one matcher, e.g. environment=production.';
  for (const [n, line] of lines.entries()) {
    const m = /^([A-Za-z][\w.]*)\s*(=~|=)\s*(.+)$/.exec(line);
    if (!m)
      return `Matcher line ${n + 1} is not field=value or field=~regex: ${line}`;
    matchers[m[1]] = m[2] === '=~' ? { regex: m[3] } : m[3];
  }
  return matchers;
}

export function matchersText(matchers: Record<string, unknown>): string {
  return Object.entries(matchers)
    .map(([k, v]) =>
      v && typeof v === 'object' && 'regex' in v
        ? `${k}=~${String((v as { regex: unknown }).regex)}`
        : Array.isArray(v)
          ? `${k} in ${v.map(String).join(', ')}`
          : `${k}=${String(v)}`,
    )
    .join(', ');
}

export async function silencesPage(ctx: Ctx): Promise<void> {
  const results = h('div');
  const text = h('textarea', {
    name: 'matchers',
    rows: 3,
    required: true,
    spellcheck: 'false',
    placeholder: 'environment=production\nalarmName=~db-.*',
  });
  const load = async () => {
    const { items } = await api.get<{ items: Silence[] }>('v1/silences');
    const expire = (s: Silence) => () =>
      api
        .delete(`v1/silences/${enc(s.id)}`)
        .then(() => ctx.say('Silence expired.'))
        .then(load)
        .catch(ctx.fail);
    const columns = [
      {
        title: 'Matches',
        cell: (s: Silence) => h('code', {}, matchersText(s.matchers)),
      },
      { title: 'State', cell: (s: Silence) => badge(s.state, s.state) },
      { title: 'Starts', cell: (s: Silence) => when(s.startsAt) },
      { title: 'Ends', cell: (s: Silence) => when(s.endsAt) },
      { title: 'Comment', cell: (s: Silence) => s.comment },
      { title: 'By', cell: (s: Silence) => s.createdBy },
      {
        title: 'Action',
        cell: (s: Silence) =>
          s.state === 'expired'
            ? ''
            : h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-fid': `expire:${s.id}`,
                  'aria-label': `Expire silence ${matchersText(s.matchers)}`,
                  onclick: expire(s),
                },
                'Expire',
              ),
      },
    ];
    const of = (state: Silence['state']) =>
      items.filter((s) => s.state === state);
    redraw(results, [
      h(
        'section',
        {},
        table('Active', columns, of('active'), 'No active silence.'),
      ),
      h(
        'section',
        {},
        table('Pending', columns, of('pending'), 'No pending silence.'),
      ),
      h(
        'section',
        {},
        table(
          'Expired (latest 20)',
          columns,
          of('expired').slice(0, 20),
          'No expired silence.',
        ),
      ),
    ]);
  };
  const form = silenceForm(
    ctx,
    'New silence',
    field(
      'Matchers',
      text,
      'one a line: field=value, or field=~regex; fields as in routes (alarmName, environment, severity, dedupKey, …, customDetails.<name>)',
    ),
    () => parseMatchers(text.value),
    () => {
      text.value = '';
      load().catch(ctx.fail);
    },
  );
  ctx.main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Silences'),
    results,
    form,
  );
  await load();
}
