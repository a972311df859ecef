import type { Ctx } from './app.js';
import { api, enc, type Delivery, type IncidentDetail } from './api.js';
import {
  badge,
  h,
  holdText,
  json,
  outsideLink,
  redraw,
  table,
  when,
  type Child,
} from './dom.js';
import { silenceForm } from './silence-form.js';

const MATCHABLE = [
  'alarmName',
  'environment',
  'dedupKey',
  'severity',
  'metricName',
  'source',
  'component',
  'group',
  'class',
] as const;
const CHECKED = new Set(['alarmName', 'environment']);

export async function incidentPage(ctx: Ctx, rawKey: string): Promise<void> {
  let dedupKey: string;
  try {
    dedupKey = decodeURIComponent(rawKey);
  } catch {
    dedupKey = rawKey;
  }
  const path = `v1/incidents/${enc(dedupKey)}`;
  const body = h('div');
  const heading = h('h1', { tabindex: -1 }, dedupKey);
  ctx.main.replaceChildren(
    h('p', {}, h('a', { href: '#/incidents' }, '← Incidents')),
    heading,
    body,
  );

  let shown = '';
  let silence: HTMLFormElement | null = null;
  const load = async () => {
    const incident = await api.get<IncidentDetail>(path);
    const next = JSON.stringify(incident);
    if (next === shown) return;
    shown = next;
    heading.textContent = incident.alarmName;
    silence ??= silenceFormFor(ctx, incident);
    redraw(body, [...sections(ctx, incident, load), silence]);
  };
  await load();
  ctx.every(load);
}

function act(
  ctx: Ctx,
  incident: IncidentDetail,
  what: 'acknowledge' | 'resolve',
  reload: () => Promise<void>,
) {
  return () =>
    api
      .post(`v1/incidents/${enc(incident.dedupKey)}/${what}`)
      .then(() =>
        ctx.say(
          what === 'acknowledge'
            ? 'Incident acknowledged.'
            : 'Incident resolved.',
        ),
      )
      .then(reload)
      .catch(ctx.fail);
}

function sections(
  ctx: Ctx,
  i: IncidentDetail,
  reload: () => Promise<void>,
): Node[] {
  const held = holdText(i.suppressedBy);
  const actions = h(
    'div',
    { class: 'actions' },
    i.status === 'triggered'
      ? h(
          'button',
          {
            type: 'button',
            'data-fid': 'ack',
            onclick: act(ctx, i, 'acknowledge', reload),
          },
          'Acknowledge',
        )
      : null,
    i.status !== 'resolved'
      ? h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'data-fid': 'resolve',
            onclick: act(ctx, i, 'resolve', reload),
          },
          'Resolve',
        )
      : null,
  );
  const pd = i.pagerduty;
  const facts: [string, Child][] = [
    [
      'Status',
      h(
        'span',
        {},
        badge(i.status, i.status),
        held && i.status !== 'resolved' ? ` ${held}` : '',
      ),
    ],
    ['Severity', badge(i.severity, i.severity.toLowerCase())],
    ['Environment', i.environment],
    ['Dedup key', h('code', {}, i.dedupKey)],
    [
      'PagerDuty',
      pd
        ? outsideLink(
            pd.htmlUrl,
            pd.number ? `Incident #${pd.number}` : pd.incidentId,
          )
        : 'not linked (no PagerDuty webhook for it yet)',
    ],
    ['Occurrences', i.occurrences],
    ['Opened', when(i.createdAt)],
    ['Last seen', when(i.lastSeenAt)],
    ['Acknowledged', when(i.acknowledgedAt)],
    [
      'Resolved',
      i.resolvedAt
        ? h('span', {}, when(i.resolvedAt), ` (${i.resolveReason ?? ''})`)
        : '—',
    ],
    ['Description', i.description ?? '—'],
    [
      'Metric',
      i.metricName
        ? `${i.metricName}: ${i.currentValue ?? '?'} (threshold ${i.threshold ?? '?'})`
        : '—',
    ],
    [
      'Source',
      [i.ingestSource, i.source, i.component, i.group, i.class]
        .filter(Boolean)
        .join(' · '),
    ],
    [
      'Route',
      i.route
        ? `${i.route.names.join(' → ')}: ${i.route.notifiers.join(', ')}`
        : 'every enabled notifier',
    ],
    [
      'Recommendations',
      i.recommendations.length
        ? h(
            'ul',
            {},
            i.recommendations.map((r) => h('li', {}, r)),
          )
        : '—',
    ],
    [
      'Links',
      i.links.length
        ? h(
            'ul',
            {},
            i.links.map((l) =>
              h('li', {}, outsideLink(l.href, l.text ?? l.href)),
            ),
          )
        : '—',
    ],
    ['Details', json(i.customDetails)],
  ];
  return [
    actions,
    h(
      'dl',
      { class: 'facts' },
      facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]).flat(),
    ),
    h(
      'section',
      {},
      table(
        'Timeline',
        [
          {
            title: 'When',
            cell: (e: IncidentDetail['timeline'][number]) => when(e.at),
          },
          { title: 'Event', cell: (e) => e.type },
          { title: 'Detail', cell: (e) => json(e.detail) },
        ],
        i.timeline,
        'No timeline yet.',
        1,
      ),
    ),
    h('section', {}, deliveriesTable(ctx, i.deliveries, reload, false)),
  ];
}

/** Shared with the deliveries page: attempts, last error, PagerDuty's answer, retry. */
export function deliveriesTable(
  ctx: Ctx,
  deliveries: Delivery[],
  reload: () => Promise<void>,
  withKey: boolean,
): HTMLElement {
  const retry = (d: Delivery) => () =>
    api
      .post(`v1/deliveries/${enc(d.id)}/retry`)
      .then(() => ctx.say(`Delivery ${d.id} queued again.`))
      .then(reload)
      .catch(ctx.fail);
  return table(
    'Deliveries',
    [
      {
        title: 'Delivery',
        cell: (d: Delivery) => `#${d.id} ${d.action} → ${d.notifier}`,
      },
      ...(withKey
        ? [
            {
              title: 'Incident',
              cell: (d: Delivery) =>
                h('a', { href: `#/incidents/${enc(d.dedupKey)}` }, d.dedupKey),
            },
          ]
        : []),
      { title: 'State', cell: (d) => badge(d.state, d.state) },
      { title: 'Attempts', cell: (d) => d.attempts },
      { title: 'Next attempt', cell: (d) => when(d.nextAttemptAt) },
      { title: 'Last error', cell: (d) => d.lastError ?? '—' },
      { title: "PagerDuty's answer", cell: (d) => json(d.lastResponse) },
      { title: 'Created', cell: (d) => when(d.createdAt) },
      {
        title: 'Action',
        cell: (d) =>
          d.state === 'dead'
            ? h(
                'button',
                {
                  type: 'button',
                  'data-fid': `retry:${d.id}`,
                  'aria-label': `Retry delivery ${d.id}`,
                  onclick: retry(d),
                },
                'Retry',
              )
            : '',
      },
    ],
    deliveries,
    'No deliveries.',
  );
}

function silenceFormFor(ctx: Ctx, i: IncidentDetail): HTMLFormElement {
  const boxes = MATCHABLE.filter(
    (f) => typeof i[f] === 'string' && i[f] !== '',
  ).map((f) => {
    const value = String(i[f]);
    const box = h('input', {
      type: 'checkbox',
      id: `m-${f}`,
      name: f,
      checked: CHECKED.has(f),
    });
    return {
      f,
      value,
      box,
      el: h(
        'div',
        { class: 'check' },
        box,
        h('label', { for: box.id }, `${f} = `, h('code', {}, value)),
      ),
    };
  });
  const fieldset = h(
    'fieldset',
    {},
    h('legend', {}, 'Match alerts whose'),
    boxes.map((b) => b.el),
  );
  return silenceForm(
    ctx,
    'Silence alerts like this',
    fieldset,
    () => {
      const chosen = boxes.filter((b) => b.box.checked);
      if (chosen.length === 0) return 'Pick at least one field to match.';
      return Object.fromEntries(
        chosen.map((b) => [
          b.f,
          b.f === 'severity' ? b.value.toLowerCase() : b.value,
        ]),
      );
    },
    () => undefined,
  );
}
