/**
 * Every value from the API enters the page through these helpers: text nodes and
 * attributes, never HTML. Alerts are written by whoever can reach the ingest endpoints.
 */
export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<
  string,
  string | number | boolean | null | undefined | ((event: Event) => void)
>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function')
      el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(
      child instanceof Node ? child : document.createTextNode(String(child)),
    );
  }
}

/** An outside link only when it is http(s): a `javascript:` href would run on click. */
export function safeHref(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:'
      ? url.href
      : null;
  } catch {
    return null;
  }
}

export function outsideLink(href: unknown, text: string): Child {
  const safe = safeHref(href);
  if (!safe) return text;
  return h(
    'a',
    { href: safe, target: '_blank', rel: 'noopener noreferrer' },
    text,
  );
}

let ids = 0;
/** A labelled control: `<label for>` and the control share a fresh id. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  control.id ||= `f${++ids}`;
  let hintEl: HTMLElement | null = null;
  if (hint) {
    hintEl = h('span', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hintEl,
  );
}

export function select(
  name: string,
  options: [value: string, text: string][],
  value = '',
): HTMLSelectElement {
  const el = h('select', { name });
  for (const [v, text] of options)
    el.appendChild(h('option', { value: v, selected: v === value }, text));
  return el;
}

/**
 * A table whose rows turn into labelled blocks on a narrow screen (CSS reads
 * `data-label`); `rowHeader`: the column that names the row.
 */
export function table<T>(
  caption: string,
  columns: { title: string; cell: (row: T) => Child | Child[] }[],
  rows: T[],
  empty: string,
  rowHeader = 0,
): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    { class: 'grid' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { scope: 'col' }, c.title)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          columns.map((c, i) => {
            const cell = c.cell(row);
            const content = Array.isArray(cell) ? cell : [cell];
            return i === rowHeader
              ? h('th', { scope: 'row', 'data-label': c.title }, ...content)
              : h('td', { 'data-label': c.title }, ...content);
          }),
        ),
      ),
    ),
  );
}

export function when(iso: string | null | undefined): Child {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return h('time', { datetime: iso, title: iso }, relative(d));
}

function relative(d: Date): string {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  const abs = Math.abs(s);
  const unit =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.floor(abs / 60)}m`
        : abs < 86400
          ? `${Math.floor(abs / 3600)}h`
          : `${Math.floor(abs / 86400)}d`;
  return s >= 0 ? `${unit} ago` : `in ${unit}`;
}

export function json(value: unknown): Child {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object' && Object.keys(value).length === 0) return '—';
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

/**
 * Replaces a refreshed section's content; keyboard focus on one of its controls (marked
 * `data-fid`) stays on the same control, so a refresh never throws the operator out.
 */
export function redraw(container: HTMLElement, nodes: Node[]): void {
  const active = document.activeElement;
  const fid =
    active && container.contains(active)
      ? active.getAttribute('data-fid')
      : null;
  container.replaceChildren(...nodes);
  if (fid)
    container
      .querySelector<HTMLElement>(`[data-fid="${CSS.escape(fid)}"]`)
      ?.focus();
}

export function badge(kind: string, text: string): HTMLElement {
  return h('span', { class: `badge ${kind.toLowerCase()}` }, text);
}

export function holdText(
  hold: Record<string, unknown> | null | undefined,
): string {
  if (!hold) return '';
  switch (hold.reason) {
    case 'silence':
      return 'held: silenced';
    case 'inhibit':
      return `held: inhibited by ${String(hold.dedupKey)}`;
    case 'pageAfter':
      return `held until ${String(hold.until)}`;
    default:
      return 'held';
  }
}
