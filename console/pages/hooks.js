// Webhooks (admin): the list and a form for a new one.

import { all, post } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, table, errorText, panelForm } from '../ui.js';

export async function render(main, { navigate }) {
  main.append(pageHeading('Webhooks'));
  const area = h('div');
  main.append(area);
  let hooks;
  try {
    hooks = await all('/hooks/');
  } catch (e) {
    area.append(message('error', errorText(e)));
    return;
  }
  const name = h('input', { name: 'name', required: true });
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://…' });
  const filters = h('textarea', { name: 'filters', rows: 3 }, '{}');
  const batch = h('input', { name: 'batch_size', type: 'number', min: 1, value: 1 });
  const attempts = h('input', { name: 'send_attempts', type: 'number', min: 0, value: 0 });
  const status = h('div', { 'aria-live': 'polite' });
  clear(
    area,
    table('Webhooks', [
      ['Name', (k) => h('a', { href: `/console/hooks/${k.id}` }, k.name)],
      ['URL', (k) => k.url],
      ['Active', (k) => (k.active ? 'yes' : `no${k.disabled_reason ? ` (${k.disabled_reason})` : ''}`)],
      ['Failing since', (k) => k.failing_since || ''],
      ['Filters', (k) => h('code', {}, JSON.stringify(k.filters))],
    ], hooks, 'No webhook yet.'),
    panelForm(
      'New webhook',
      async () => {
        let parsed;
        try {
          parsed = JSON.parse(filters.value || '{}');
        } catch {
          clear(status, message('error', 'Filters must be a JSON object, e.g. {"matched": true}.'));
          return;
        }
        const body = { name: name.value, url: url.value, filters: parsed, batch_size: Number(batch.value), send_attempts: Number(attempts.value) };
        const created = await attempt(status, () => post('/hooks/', body));
        if (created) navigate(`/console/hooks/${created.id}`);
      },
      h('h2', {}, 'New webhook'),
      h(
        'div',
        { class: 'grid' },
        field('Webhook name', name),
        field('Receiver URL', url),
        field('Batch size', batch, 'events per request'),
        field('Send attempts', attempts, '0: until delivered'),
      ),
      field('Filters (JSON)', filters, '{} is every event; e.g. {"matched": true, "camera_in": [1]}'),
      status,
      h('button', { type: 'submit', class: 'primary' }, 'Create webhook'),
    ),
  );
}
