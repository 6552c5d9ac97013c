// Event search: every filter of GET /events/faces/, cursor paging (next_page as given, the pages
// already seen kept for "Previous"). The page's own query string is the API's, so a search can be
// bookmarked or shared.

import { get, query } from '../api.js';
import { h, clear, field, pageHeading, message, errorText } from '../ui.js';
import { eventRow } from '../event-row.js';
import * as lookup from '../lookup.js';

const CLASSES = {
  gender: ['male', 'female'],
  emotions: ['neutral', 'happy', 'sad', 'angry', 'surprised', 'disgusted', 'scared'],
  glasses: ['none', 'eye', 'sun'],
  beard: ['none', 'beard'],
  liveness: ['real', 'fake'],
};

function multiSelect(name, options, chosen) {
  return h(
    'select',
    { name, multiple: true, size: Math.min(4, Math.max(2, options.length)) },
    options.map(([value, label]) => h('option', { value: String(value), selected: chosen.includes(String(value)) }, label)),
  );
}

function choice(name, options, chosen) {
  return h('select', { name }, options.map(([value, label]) => h('option', { value, selected: chosen === value }, label)));
}

/** datetime-local (the browser's time zone) <-> the API's ISO 8601 in UTC. */
const toLocalInput = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
};
const fromLocalInput = (value) => (value ? new Date(value).toISOString() : '');

export async function render(main, { query: initial, navigate }) {
  main.append(pageHeading('Event search'));
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  try {
    await lookup.loadNames();
  } catch (e) {
    status.append(message('error', errorText(e)));
  }
  const q = (key) => initial.getAll(key);
  const one = (key) => initial.get(key) ?? '';
  const text = (name, value, attrs = {}) => h('input', { name, value, ...attrs });
  const datalists = Object.entries(CLASSES).map(([key, values]) => h('datalist', { id: `dl-${key}` }, values.map((v) => h('option', { value: v }))));

  const form = h(
    'form',
    { class: 'panel', role: 'search', 'aria-label': 'Event filters' },
    h(
      'div',
      { class: 'grid' },
      field('Cameras', multiSelect('cameras', lookup.cameras().map((c) => [c.id, c.name]), q('cameras'))),
      field('Camera groups', multiSelect('camera_groups', lookup.groups().map((g) => [g.id, g.name]), q('camera_groups'))),
      field('Watch lists', multiSelect('matched_lists', lookup.lists().map((l) => [l.id, l.name]), q('matched_lists'))),
      field('Match', choice('matched', [['', 'Any'], ['true', 'Matched'], ['false', 'Not matched']], one('matched'))),
      field('Acknowledged', choice('acknowledged', [['', 'Any'], ['true', 'Yes'], ['false', 'No']], one('acknowledged'))),
      field('Matched dossier (id)', text('matched_dossier', one('matched_dossier'), { inputmode: 'numeric' })),
      field('Detected from', text('created_date_gte', toLocalInput(one('created_date_gte')), { type: 'datetime-local', step: 1 })),
      field('Detected until', text('created_date_lte', toLocalInput(one('created_date_lte')), { type: 'datetime-local', step: 1 })),
      field('Confidence at least', text('confidence_gte', one('confidence_gte'), { type: 'number', min: 0, max: 1, step: 0.01 })),
    ),
    h(
      'details',
      { open: ['age_gte', 'age_lte', 'id_gt', 'id_lt', 'ordering', 'limit', ...Object.keys(CLASSES)].some((k) => initial.has(k)) },
      h('summary', {}, 'More filters: attributes, ids, order'),
      h(
        'div',
        { class: 'grid' },
      field('Age from', text('age_gte', one('age_gte'), { type: 'number', min: 0, max: 150 })),
      field('Age to', text('age_lte', one('age_lte'), { type: 'number', min: 0, max: 150 })),
      Object.keys(CLASSES).map((key) =>
        field(key[0].toUpperCase() + key.slice(1), text(key, q(key).join(', '), { list: `dl-${key}` }), 'several: comma-separated'),
      ),
      field('Newer than event id', text('id_gt', one('id_gt'))),
      field('Older than event id', text('id_lt', one('id_lt'))),
      field('Order', choice('ordering', [['', 'Newest first'], ['id', 'Oldest first'], ['-created_date', 'Detection time, newest'], ['created_date', 'Detection time, oldest']], one('ordering'))),
      field('Per page', choice('limit', [['', '20'], ['50', '50'], ['100', '100']], one('limit'))),
      ),
    ),
    datalists,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Search'), h('button', { type: 'reset' }, 'Clear filters')),
  );
  const results = h('section', { class: 'results', 'aria-label': 'Results' });
  const pager = h('nav', { class: 'row', 'aria-label': 'Result pages' });
  main.append(form, status, results, pager);

  function filters() {
    const data = new FormData(form);
    const out = {};
    for (const key of new Set(data.keys())) {
      let values = data.getAll(key).map(String).filter((v) => v !== '');
      if (key in CLASSES) values = values.flatMap((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
      if (key === 'created_date_gte' || key === 'created_date_lte') values = values.map(fromLocalInput);
      if (values.length) out[key] = values;
    }
    return out;
  }

  const visited = [];
  async function show(path) {
    clear(status, message('info', 'Searching…'));
    try {
      const page = await get(path);
      clear(status, h('p', { class: 'count' }, `${page.count} event${page.count === 1 ? '' : 's'}`));
      clear(results, page.results.length ? page.results.map((e) => eventRow(e)) : h('p', { class: 'empty' }, 'No event matches these filters.'));
      clear(
        pager,
        visited.length > 1 &&
          h('button', { type: 'button', onclick: () => (visited.pop(), show(visited.pop())) }, 'Previous page'),
        page.next_page && h('button', { type: 'button', onclick: () => show(page.next_page) }, 'Next page'),
      );
      visited.push(path);
    } catch (e) {
      clear(status, message('error', errorText(e)));
    }
  }

  function search() {
    const qs = query(filters());
    history.replaceState(null, '', '/console/events' + qs);
    visited.length = 0;
    show('/events/faces/' + qs);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  form.addEventListener('reset', () => queueMicrotask(() => {
    for (const s of form.querySelectorAll('select[multiple] option')) s.selected = false;
    search();
  }));
  visited.length = 0;
  show('/events/faces/' + query(Object.fromEntries([...new Set(initial.keys())].map((k) => [k, initial.getAll(k)]))));
}
