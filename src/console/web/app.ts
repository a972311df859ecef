import { api, ApiError, key, Unauthorized } from './api.js';
import { h } from './dom.js';
import { deliveriesPage } from './deliveries.page.js';
import { incidentPage } from './incident.page.js';
import { incidentsPage } from './incidents.page.js';
import { routingPage } from './routing.page.js';
import { settingsPage } from './settings.page.js';
import { silencesPage } from './silences.page.js';

/** How often the open page's list is read again. */
export const REFRESH_MS = 5000;

/** What a page gets: where to draw, how to talk to the operator, how to refresh. */
export interface Ctx {
  main: HTMLElement;
  say: (message: string, kind?: 'info' | 'error') => void;
  /** reports an API failure; a refused key sends the operator back to the key form */
  fail: (error: unknown) => void;
  /** runs `work` every {@link REFRESH_MS} while this page is shown and the tab visible */
  every: (work: () => Promise<void>) => void;
}

type PageFn = (ctx: Ctx, arg: string) => Promise<void>;

const PAGES: { path: RegExp; title: string; nav?: string; page: PageFn }[] = [
  { path: /^\/incidents\/(.+)$/, title: 'Incident', page: incidentPage },
  {
    path: /^\/(incidents)?$/,
    title: 'Incidents',
    nav: '#/incidents',
    page: incidentsPage,
  },
  {
    path: /^\/deliveries$/,
    title: 'Deliveries',
    nav: '#/deliveries',
    page: deliveriesPage,
  },
  {
    path: /^\/silences$/,
    title: 'Silences',
    nav: '#/silences',
    page: silencesPage,
  },
  {
    path: /^\/routing$/,
    title: 'Routing',
    nav: '#/routing',
    page: routingPage,
  },
  {
    path: /^\/settings$/,
    title: 'Settings',
    nav: '#/settings',
    page: settingsPage,
  },
];

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const status = document.getElementById('status')!;

let timers: number[] = [];
/** Each navigation gets a number; work of an older one draws nothing. */
let generation = 0;
let opened = false;
let keyed = false;

function say(message: string, kind: 'info' | 'error' = 'info'): void {
  status.className = `status ${kind}`;
  status.textContent = message;
}

function stopTimers(): void {
  for (const t of timers) clearInterval(t);
  timers = [];
}

function fail(error: unknown): void {
  if (error instanceof Unauthorized) {
    key.clear();
    showKeyForm('The key was refused: enter it again.');
    return;
  }
  say(error instanceof ApiError ? error.message : String(error), 'error');
}

async function route(): Promise<void> {
  if (!opened) return;
  stopTimers();
  const mine = ++generation;
  const path = location.hash.replace(/^#/, '');
  const match = PAGES.map((p) => ({ p, m: p.path.exec(path) })).find(
    (x) => x.m,
  );
  renderNav(match?.p.nav);
  main.replaceChildren();
  if (!match) {
    document.title = 'Not found · Alerting console';
    main.append(
      h('h1', { tabindex: -1 }, 'No such page'),
      h('p', {}, h('a', { href: '#/incidents' }, 'Back to incidents')),
    );
    return;
  }
  document.title = `${match.p.title} · Alerting console`;
  const ctx: Ctx = {
    main,
    say,
    fail,
    every: (work) => {
      const t = window.setInterval(() => {
        if (document.hidden || mine !== generation) return;
        work().catch(fail);
      }, REFRESH_MS);
      timers.push(t);
    },
  };
  try {
    await match.p.page(ctx, match.m![1] ?? '');
  } catch (error) {
    if (mine === generation) fail(error);
  }
}

function renderNav(current?: string): void {
  nav.hidden = false;
  const items = PAGES.filter((p) => p.nav).map((p) =>
    h(
      'a',
      { href: p.nav!, 'aria-current': p.nav === current ? 'page' : null },
      p.title,
    ),
  );
  const out = keyed
    ? h(
        'button',
        { type: 'button', class: 'link', onclick: signOut },
        'Sign out',
      )
    : null;
  nav.replaceChildren(...items, ...(out ? [out] : []));
}

function signOut(): void {
  key.clear();
  showKeyForm('Signed out: the key is forgotten in this tab.');
}

function showKeyForm(message?: string): void {
  opened = false;
  keyed = true;
  stopTimers();
  generation++;
  nav.hidden = true;
  nav.replaceChildren();
  document.title = 'Sign in · Alerting console';
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const button = h('button', { type: 'submit' }, 'Open the console');
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'key-title' },
    h('h1', { id: 'key-title', tabindex: -1 }, 'Sign in'),
    h(
      'p',
      {},
      'This service asks for an API key. It is kept in this tab only (session storage) and sent as a header with each request.',
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'api-key' }, 'API key'),
      input,
    ),
    button,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const k = input.value.trim();
    if (!k) return;
    button.disabled = true;
    say('Checking the key…');
    api
      .probe(k)
      .then(() => {
        key.set(k);
        say('');
        open();
      })
      .catch((error: unknown) => {
        button.disabled = false;
        if (error instanceof Unauthorized)
          say('That key was refused.', 'error');
        else
          say(
            error instanceof ApiError ? error.message : String(error),
            'error',
          );
        input.focus();
      });
  });
  main.replaceChildren(form);
  if (message) say(message);
  input.focus();
}

function open(): void {
  opened = true;
  if (!location.hash) history.replaceState(null, '', '#/incidents');
  void route().then(() => main.querySelector<HTMLElement>('h1')?.focus());
}

async function start(): Promise<void> {
  const stored = key.get();
  try {
    // Without a stored key, a keyless read tells whether the API wants one (development
    // runs without keys); it reads one row at most and a keyed API answers it 401.
    await api.probe(stored);
    keyed = stored !== null;
    open();
  } catch (error) {
    if (error instanceof Unauthorized) {
      key.clear();
      showKeyForm(
        stored ? 'The stored key was refused: enter it again.' : undefined,
      );
    } else {
      main.replaceChildren(h('h1', { tabindex: -1 }, 'Alerting console'));
      fail(error);
    }
  }
}

window.addEventListener('hashchange', () => {
  void route().then(() => main.querySelector<HTMLElement>('h1')?.focus());
});
void start();
