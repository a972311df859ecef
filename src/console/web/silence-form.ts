import type { Ctx } from './app.js';
import { api, type Silence } from './api.js';
import { field, h, select } from './dom.js';

const USER = 'alerting-console-user';

/**
 * Duration, comment and author of a new silence; `matchers()` supplies what it matches.
 * Shared by the incident page ("alerts like this") and the silences page.
 */
export function silenceForm(
  ctx: Ctx,
  title: string,
  matcherControls: HTMLElement,
  matchers: () => Record<string, unknown> | string,
  created: (s: Silence) => void,
): HTMLFormElement {
  const duration = select(
    'duration',
    [
      ['1h', '1 hour'],
      ['4h', '4 hours'],
      ['1d', '1 day'],
      ['custom', 'Custom…'],
    ],
    '1h',
  );
  const custom = h('input', {
    name: 'custom-duration',
    type: 'text',
    placeholder: 'e.g. 30m, 2h, 3d',
    autocomplete: 'off',
  });
  const customField = field('Custom duration', custom);
  customField.hidden = true;
  duration.addEventListener('change', () => {
    customField.hidden = duration.value !== 'custom';
    custom.required = duration.value === 'custom';
  });
  const comment = h('input', {
    name: 'comment',
    type: 'text',
    required: true,
    maxlength: 4096,
  });
  const createdBy = h('input', {
    name: 'createdBy',
    type: 'text',
    required: true,
    maxlength: 255,
    value: sessionStorage.getItem(USER) ?? '',
    autocomplete: 'username',
  });
  const button = h('button', { type: 'submit' }, 'Create silence');
  const form = h(
    'form',
    { class: 'card', 'aria-label': title },
    h('h2', {}, title),
    matcherControls,
    field('Duration', duration),
    customField,
    field('Comment', comment, 'why, for whoever looks later'),
    field('Created by', createdBy),
    button,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const m = matchers();
    if (typeof m === 'string') {
      ctx.say(m, 'error');
      return;
    }
    sessionStorage.setItem(USER, createdBy.value.trim());
    button.disabled = true;
    api
      .post<Silence>('v1/silences', {
        matchers: m,
        duration:
          duration.value === 'custom' ? custom.value.trim() : duration.value,
        comment: comment.value.trim(),
        createdBy: createdBy.value.trim(),
      })
      .then((s) => {
        ctx.say(
          `Silence created, ${s.state} until ${new Date(s.endsAt).toLocaleString()}.`,
        );
        comment.value = '';
        created(s);
      }, ctx.fail)
      .finally(() => (button.disabled = false));
  });
  return form;
}
