import type { Ctx } from './app.js';
import { api, enc, query, type Incident, type Page } from './api.js';
import {
  badge,
  field,
  h,
  holdText,
  redraw,
  select,
  table,
  when,
  type Child,
} from './dom.js';

/** Kept while the tab lives, so coming back from an incident keeps the filters. */
const filters = {
  status: '',
  severity: '',
  environment: '',
  suppressed: '',
  q: '',
};

const OPEN = 'triggered,acknowledged';

export async function incidentsPage(ctx: Ctx): Promise<void> {
  const status = select(
    'status',
    [
      ['', 'Open, then recently resolved'],
      ['triggered', 'Triggered'],
      ['acknowledged', 'Acknowledged'],
      ['resolved', 'Resolved'],
    ],
    filters.status,
  );
  const severity = select(
    'severity',
    [
      ['', 'Any'],
      ['critical', 'Critical'],
      ['error', 'Error'],
      ['warning', 'Warning'],
      ['info', 'Info'],
    ],
    filters.severity,
  );
  const environment = h('input', {
    name: 'environment',
    type: 'text',
    value: filters.environment,
    placeholder: 'any',
    autocomplete: 'off',
  });
  const suppressed = select(
    'suppressed',
    [
      ['', 'Any'],
      ['true', 'Held back only'],
      ['false', 'Not held back'],
    ],
    filters.suppressed,
  );
  const q = h('input', {
    name: 'q',
    type: 'search',
    value: filters.q,
    placeholder: 'part of a dedup key',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter incidents' },
    field('Status', status),
    field('Severity', severity),
    field('Environment', environment),
    field('Held back', suppressed),
    field('Key', q),
    h('button', { type: 'submit' }, 'Apply'),
  );
  const results = h('div', { class: 'results' });
  const updated = h('p', { class: 'muted' });
  ctx.main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Incidents'),
    form,
    updated,
    results,
  );

  let shown = '';
  const load = async () => {
    const common = {
      severity: filters.severity,
      environment: filters.environment,
      suppressed: filters.suppressed,
      q: filters.q,
    };
    const sections: [string, Incident[]][] = [];
    if (filters.status) {
      const page = await api.get<Page<Incident>>(
        `v1/incidents${query({ ...common, status: filters.status, limit: '100' })}`,
      );
      sections.push([`${label(filters.status)} incidents`, page.items]);
    } else {
      const [open, resolved] = await Promise.all([
        api.get<Page<Incident>>(
          `v1/incidents${query({ ...common, status: OPEN, limit: '100' })}`,
        ),
        api.get<Page<Incident>>(
          `v1/incidents${query({ ...common, status: 'resolved', limit: '20' })}`,
        ),
      ]);
      sections.push(
        ['Open incidents', open.items],
        ['Recently resolved', resolved.items],
      );
    }
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every 5 seconds.`;
    const next = JSON.stringify(sections);
    if (next === shown) return;
    shown = next;
    redraw(
      results,
      sections.map(([caption, items]) =>
        h(
          'section',
          {},
          table(caption, columns, items, `No ${caption.toLowerCase()}.`),
        ),
      ),
    );
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    filters.status = status.value;
    filters.severity = severity.value;
    filters.environment = environment.value.trim();
    filters.suppressed = suppressed.value;
    filters.q = q.value.trim();
    load().then(() => ctx.say('Filters applied.'), ctx.fail);
  });

  await load();
  ctx.every(load);
}

const label = (status: string) =>
  status.charAt(0).toUpperCase() + status.slice(1);

const columns: { title: string; cell: (i: Incident) => Child }[] = [
  {
    title: 'Alarm',
    cell: (i) =>
      h(
        'a',
        { href: `#/incidents/${enc(i.dedupKey)}`, 'data-fid': `i:${i.id}` },
        i.alarmName,
      ),
  },
  {
    title: 'Severity',
    cell: (i) => badge(i.severity, i.severity.toLowerCase()),
  },
  {
    title: 'Status',
    cell: (i) => {
      const held = holdText(i.suppressedBy);
      return h(
        'span',
        {},
        badge(i.status, i.status),
        held && i.status !== 'resolved'
          ? h('span', { class: 'held' }, ` ${held}`)
          : null,
      );
    },
  },
  { title: 'Environment', cell: (i) => i.environment },
  { title: 'Key', cell: (i) => h('code', {}, i.dedupKey) },
  { title: 'Occurrences', cell: (i) => i.occurrences },
  { title: 'Last seen', cell: (i) => when(i.lastSeenAt) },
];
