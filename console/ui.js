// Small DOM helpers: elements built from data (never innerHTML with server text), dates, messages.

/** h('button', {class: 'x', onclick}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    // Through the CSSOM: the console's CSP refuses style attributes.
    else if (key === 'style') el.style.cssText = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function fmtConfidence(c) {
  return c == null ? '' : (Number(c) * 100).toFixed(1) + '%';
}

/** A labelled form field: <label>text <input></label>-like, with a stable id. */
let fieldSeq = 0;
export function field(labelText, input, hint) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const hintId = hint ? id + '-hint' : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), input, hint && h('small', { id: hintId }, hint));
}

/** A message region: errors show the server's code and reason. */
export function message(kind, text) {
  return h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function errorText(e) {
  if (e && e.code) return `${e.desc || e.message} (${e.code}${e.param ? `, ${e.param}` : ''})`;
  return String(e?.message || e);
}

/** Shows the outcome of `action` in `region` (a message element's parent). */
export async function attempt(region, action, success) {
  clear(region);
  try {
    const result = await action();
    if (success) clear(region, message('ok', typeof success === 'function' ? success(result) : success));
    return result;
  } catch (e) {
    clear(region, message('error', errorText(e)));
    return undefined;
  }
}

/** A table from rows: columns are [heading, row => cell]. */
export function table(caption, columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))),
  );
}

/** Sets the page title and moves focus to the main heading, so screen readers announce the page. */
export function pageHeading(text) {
  document.title = `${text} · ffsec`;
  const heading = h('h1', { tabindex: '-1' }, text);
  queueMicrotask(() => heading.focus({ preventScroll: true }));
  return heading;
}

/** Where a "new object" form stands; `slot.edit(existing)` puts the same form, filled in, in its
 * place, and `slot.reset()` brings the empty one back. `build(existing?)` makes the form. */
export function formSlot(build) {
  const slot = h('div', {}, build());
  slot.edit = (existing) => {
    const form = build(existing);
    slot.replaceChildren(form);
    form.querySelector('input, select, textarea')?.focus();
  };
  slot.reset = () => slot.replaceChildren(build());
  return slot;
}

/** A table row's Edit and (De)activate buttons; `label` names the row for screen readers. */
export function rowActions(label, active, onEdit, onToggle) {
  const named = (text) => [text, h('span', { class: 'sr-only' }, ` ${label}`)];
  return h(
    'div',
    { class: 'row' },
    h('button', { type: 'button', onclick: onEdit }, named('Edit')),
    h('button', { type: 'button', onclick: onToggle }, named(active ? 'Deactivate' : 'Activate')),
  );
}

/** A form in a panel, named for assistive technology; `submit` runs instead of a page load. */
export function panelForm(label, submit, ...children) {
  const onsubmit = (e) => {
    e.preventDefault();
    submit();
  };
  return h('form', { class: 'panel', 'aria-label': label, onsubmit }, ...children);
}
