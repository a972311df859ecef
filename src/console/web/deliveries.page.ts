import type { Ctx } from './app.js';
import { api, query, type Delivery, type Page } from './api.js';
import { field, h, redraw, select } from './dom.js';
import { deliveriesTable } from './incident.page.js';

let state = 'pending,dead';

export async function deliveriesPage(ctx: Ctx): Promise<void> {
  const states = select(
    'state',
    [
      ['pending,dead', 'Pending and dead'],
      ['pending', 'Pending'],
      ['dead', 'Dead'],
      ['delivered', 'Delivered'],
      ['', 'All'],
    ],
    state,
  );
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter deliveries' },
    field('State', states),
    h('button', { type: 'submit' }, 'Apply'),
  );
  const results = h('div');
  ctx.main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Deliveries'),
    h(
      'p',
      { class: 'muted' },
      'The outbox: what is still to be sent, and what gave up (dead) and can be sent again.',
    ),
    form,
    results,
  );
  let shown = '';
  const load = async () => {
    const page = await api.get<Page<Delivery>>(
      `v1/deliveries${query({ state, limit: '100' })}`,
    );
    const next = JSON.stringify(page.items);
    if (next === shown) return;
    shown = next;
    redraw(results, [deliveriesTable(ctx, page.items, load, true)]);
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state = states.value;
    load().catch(ctx.fail);
  });
  await load();
  ctx.every(load);
}
