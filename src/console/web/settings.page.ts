import type { Ctx } from './app.js';
import { api } from './api.js';
import { field, h } from './dom.js';

interface PagerDutySettings {
  enabled: boolean;
  routingKey: string | null;
  routingKeySource: string;
  serviceName: string | null;
  escalationPolicyId: string | null;
  eventsUrl: string;
  rateLimitPerMinute: number;
}

export async function settingsPage(ctx: Ctx): Promise<void> {
  const facts = h('dl', { class: 'facts' });
  const show = (s: PagerDutySettings) =>
    facts.replaceChildren(
      ...(
        [
          [
            'PagerDuty notifier',
            s.enabled ? 'enabled' : 'not enabled (NOTIFIERS)',
          ],
          ['Service', s.serviceName ?? '—'],
          [
            'Routing key',
            h('code', { id: 'masked-key' }, s.routingKey ?? 'none'),
          ],
          ['Key from', s.routingKeySource],
          ['Escalation policy', s.escalationPolicyId ?? '—'],
          ['Events API', s.eventsUrl],
          [
            'Rate limit',
            s.rateLimitPerMinute
              ? `${s.rateLimitPerMinute} events a minute`
              : 'off',
          ],
        ] as [string, Node | string][]
      ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    );
  const current = await api.get<PagerDutySettings>('v1/config/pagerduty');
  show(current);

  const routingKey = h('input', {
    name: 'routingKey',
    type: 'password',
    autocomplete: 'off',
    minlength: 32,
    maxlength: 32,
    pattern: '[A-Za-z0-9]{32}',
    spellcheck: 'false',
  });
  const serviceName = h('input', {
    name: 'serviceName',
    type: 'text',
    value: current.serviceName ?? '',
    maxlength: 255,
  });
  const escalation = h('input', {
    name: 'escalationPolicyId',
    type: 'text',
    value: current.escalationPolicyId ?? '',
    maxlength: 64,
  });
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Change PagerDuty settings' },
    h('h2', {}, 'Change'),
    field(
      'New routing key',
      routingKey,
      '32 letters and digits; empty keeps the current key',
    ),
    field('Service name', serviceName),
    field('Escalation policy id', escalation),
    h('button', { type: 'submit' }, 'Save'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const changes: Record<string, string> = {};
    if (routingKey.value.trim()) changes.routingKey = routingKey.value.trim();
    if (
      serviceName.value.trim() &&
      serviceName.value.trim() !== (current.serviceName ?? '')
    )
      changes.serviceName = serviceName.value.trim();
    if (
      escalation.value.trim() &&
      escalation.value.trim() !== (current.escalationPolicyId ?? '')
    )
      changes.escalationPolicyId = escalation.value.trim();
    if (Object.keys(changes).length === 0) {
      ctx.say('Nothing to change.');
      return;
    }
    api.patch<PagerDutySettings>('v1/config/pagerduty', changes).then((s) => {
      routingKey.value = '';
      Object.assign(current, s);
      show(s);
      ctx.say(`Saved: ${Object.keys(changes).join(', ')}.`);
    }, ctx.fail);
  });

  ctx.main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Settings'),
    h('h2', {}, 'PagerDuty'),
    facts,
    form,
  );
}
