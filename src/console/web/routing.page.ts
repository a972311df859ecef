import type { Ctx } from './app.js';
import { api, query } from './api.js';
import { field, h, json, select, table } from './dom.js';

interface RoutingView {
  source: { file: string | null; loadedAt: string | null; note?: string };
  pagerduty: { keys: Record<string, string> };
  routes: Record<string, unknown>[];
  default: Record<string, unknown> | null;
  inhibit: unknown;
}

interface RouteTest {
  route: string;
  routes: string[];
  notifiers: string[];
  pagerdutyKeys: string[];
  pageAfterMs: number | null;
  hold: Record<string, unknown> | null;
}

export async function routingPage(ctx: Ctx): Promise<void> {
  const view = await api.get<RoutingView>('v1/routing');
  const rest = (r: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(r).filter(
        ([k]) => !['name', 'match', 'notify'].includes(k),
      ),
    );
  const rules = table(
    'Routes, first match wins',
    [
      {
        title: 'Name',
        cell: (r: Record<string, unknown>) =>
          typeof r.name === 'string' ? r.name : '—',
      },
      { title: 'Match', cell: (r) => json(r.match) },
      {
        title: 'Notify',
        cell: (r) =>
          Array.isArray(r.notify) ? r.notify.map(String).join(', ') : '—',
      },
      { title: 'Other', cell: (r) => json(rest(r)) },
    ],
    view.default
      ? [...view.routes, { name: 'default', ...view.default }]
      : view.routes,
    'No routes: every incident goes to every enabled notifier.',
  );
  const keys = Object.entries(view.pagerduty?.keys ?? {});

  const input = (name: string, required = false) =>
    h('input', { name, type: 'text', required, autocomplete: 'off' });
  const alarmName = input('alarmName', true);
  const severity = select('severity', [
    ['critical', 'Critical'],
    ['error', 'Error'],
    ['warning', 'Warning'],
    ['info', 'Info'],
  ]);
  const environment = input('environment');
  const metricName = input('metricName');
  const dedupKey = input('dedupKey');
  const component = input('component');
  const klass = input('class');
  const via = select('via', [
    ['http', 'HTTP API'],
    ['sns', 'SNS (CloudWatch)'],
    ['eventbridge', 'EventBridge'],
    ['alertmanager', 'Alertmanager'],
    ['template', 'Template'],
  ]);
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Test an alert' },
    h('h2', {}, 'Test an alert'),
    h(
      'p',
      { class: 'muted' },
      'Where an alert with these fields would go now, and whether anything would hold it. Nothing is stored or sent.',
    ),
    h(
      'div',
      { class: 'grid-form' },
      field('Alarm name', alarmName),
      field('Severity', severity),
      field('Environment', environment, 'empty: the service default'),
      field('Metric name', metricName),
      field('Dedup key', dedupKey),
      field('Component', component),
      field('Class', klass),
      field('Arrives via', via),
    ),
    h('button', { type: 'submit' }, 'Test'),
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body: Record<string, string> = {
      severity: severity.value,
      alarmName: alarmName.value.trim(),
    };
    for (const [name, el] of [
      ['environment', environment],
      ['metricName', metricName],
      ['dedupKey', dedupKey],
      ['component', component],
      ['class', klass],
    ] as const)
      if (el.value.trim()) body[name] = el.value.trim();
    api
      .post<RouteTest>(`v1/routing/test${query({ via: via.value })}`, body)
      .then((r) => {
        result.replaceChildren(
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Route'),
            h('dd', {}, r.routes.join(' → ')),
            h('dt', {}, 'Notifiers'),
            h('dd', {}, r.notifiers.join(', ') || 'none'),
            h('dt', {}, 'PagerDuty keys'),
            h('dd', {}, r.pagerdutyKeys.join(', ') || 'none'),
            h('dt', {}, 'Page after'),
            h(
              'dd',
              {},
              r.pageAfterMs === null
                ? 'at once'
                : `${Math.round(r.pageAfterMs / 1000)} s`,
            ),
            h('dt', {}, 'Held now'),
            h('dd', {}, r.hold ? json(r.hold) : 'no'),
          ),
        );
        ctx.say(`Tested: route ${r.route}.`);
      }, ctx.fail);
  });

  ctx.main.replaceChildren(
    h(
      'div',
      {},
      h('h1', { tabindex: -1 }, 'Routing'),
      h(
        'p',
        { class: 'muted' },
        view.source.file
          ? `From ${view.source.file}, loaded ${view.source.loadedAt ?? ''}.`
          : (view.source.note ?? 'No routing file.'),
      ),
      h('section', {}, rules),
      keys.length
        ? h(
            'section',
            {},
            table(
              'PagerDuty keys (masked)',
              [
                { title: 'Name', cell: (k: [string, string]) => k[0] },
                { title: 'Key', cell: (k) => h('code', {}, k[1]) },
              ],
              keys,
              '',
            ),
          )
        : null,
      view.inhibit && Array.isArray(view.inhibit) && view.inhibit.length
        ? h('section', {}, h('h2', {}, 'Inhibit rules'), json(view.inhibit))
        : null,
      form,
    ),
  );
}
