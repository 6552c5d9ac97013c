// One webhook (admin): its settings and secret, the delivery log (newest first, cursor paging),
// resend of one delivery, replay of a time range.

import { get, post, patch, query } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, table, errorText, fmtDate } from '../ui.js';

const fromLocalInput = (value) => (value ? new Date(value).toISOString() : '');

export async function render(main, { params: [id] }) {
  let hook;
  try {
    hook = await get(`/hooks/${id}/`);
  } catch (e) {
    main.append(pageHeading('Webhook'), message('error', errorText(e)));
    return;
  }
  const heading = pageHeading(`Webhook: ${hook.name}`);
  const info = h('section', { class: 'panel', 'aria-label': 'Settings' });
  const log = h('section', { 'aria-labelledby': 'log-h' });
  const replay = h('section', { class: 'panel', 'aria-labelledby': 'replay-h' });
  main.append(heading, info, log, replay);

  function showInfo() {
    const status = h('div', { 'aria-live': 'polite' });
    clear(
      info,
      h(
        'dl',
        { class: 'props' },
        [
          ['URL', hook.url],
          ['Active', hook.active ? 'yes' : `no${hook.disabled_reason ? ` — ${hook.disabled_reason}` : ''}`],
          ['Filters', h('code', {}, JSON.stringify(hook.filters))],
          ['Batch size', hook.batch_size],
          ['Send attempts', hook.send_attempts === 0 ? 'until delivered' : hook.send_attempts],
          ['Signing secret', h('code', {}, hook.secret)],
          ['Failing since', hook.failing_since ? fmtDate(hook.failing_since) : 'not failing'],
        ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
      status,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', onclick: () => attempt(status, () => patch(`/hooks/${hook.id}/`, { active: !hook.active }), hook.active ? 'Webhook deactivated.' : 'Webhook activated.').then((k) => k && ((hook = k), showInfo())) }, hook.active ? 'Deactivate webhook' : 'Activate webhook'),
        h('button', { type: 'button', onclick: () => attempt(status, () => post(`/hooks/${hook.id}/rotate-secret/`), 'New secret made; the old one is accepted for a while.').then((k) => k && ((hook = { ...hook, ...k }), showInfo())) }, 'Rotate secret'),
      ),
    );
  }

  let filter = '';
  let cursors = [null];
  async function showLog() {
    const status = h('div', { 'aria-live': 'polite' });
    const cursor = cursors[cursors.length - 1];
    let page;
    try {
      page = await get(`/hooks/${hook.id}/deliveries/` + query({ limit: 20, success: filter, cursor: cursor ?? '' }));
    } catch (e) {
      clear(log, message('error', errorText(e)));
      return;
    }
    const which = h('select', { onchange: () => ((filter = which.value), (cursors = [null]), showLog()) }, [['', 'All'], ['true', 'Delivered'], ['false', 'Failed']].map(([v, l]) => h('option', { value: v, selected: v === filter }, l)));
    clear(
      log,
      h('h2', { id: 'log-h' }, `Deliveries (${page.count})`),
      h('div', { class: 'row' }, field('Show', which), h('button', { type: 'button', onclick: () => showLog() }, 'Refresh')),
      status,
      table('Deliveries', [
        ['Time', (d) => fmtDate(d.created_date)],
        ['Attempt', (d) => d.attempt],
        ['Result', (d) => (d.success ? h('span', { class: 'acked' }, 'delivered') : h('span', { class: 'msg-error' }, 'failed'))],
        ['Status', (d) => d.status ?? ''],
        ['Error', (d) => d.error ?? ''],
        ['Events', (d) => (d.events || []).length],
        ['Took', (d) => (d.duration_ms != null ? `${d.duration_ms} ms` : '')],
        ['', (d) => h('button', { type: 'button', onclick: () => attempt(status, () => post(`/hooks/${hook.id}/deliveries/${d.id}/resend/`), (r) => `Queued again: ${r.queued} event(s).`) }, 'Resend', h('span', { class: 'sr-only' }, ` delivery ${d.id}`))],
      ], page.results, 'No delivery yet.'),
      h(
        'div',
        { class: 'row' },
        cursors.length > 1 && h('button', { type: 'button', onclick: () => (cursors.pop(), showLog()) }, 'Newer deliveries'),
        page.next_page && h('button', { type: 'button', onclick: () => (cursors.push(new URL(page.next_page, location.origin).searchParams.get('cursor')), showLog()) }, 'Older deliveries'),
      ),
    );
  }

  function showReplay() {
    const since = h('input', { type: 'datetime-local', step: 1, required: true });
    const until = h('input', { type: 'datetime-local', step: 1 });
    const status = h('div', { 'aria-live': 'polite' });
    clear(
      replay,
      h('h2', { id: 'replay-h' }, 'Replay events'),
      h(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            const body = { since: fromLocalInput(since.value) };
            if (until.value) body.until = fromLocalInput(until.value);
            attempt(status, () => post(`/hooks/${hook.id}/replay/`, body), (r) => `Queued ${r.queued} event(s)${r.complete ? '' : '; more remain: replay again from where it stopped'}.`);
          },
        },
        h('div', { class: 'grid' }, field('Replay since', since), field('Replay until', until, 'empty: until now')),
        status,
        h('button', { type: 'submit', class: 'primary' }, 'Replay'),
      ),
    );
  }

  showInfo();
  showReplay();
  await showLog();
}
