// The live feed: the newest events first, arriving over the WebSocket within a second.
// Smooth at 50 events/s: frames are batched per animation frame, the list is virtualised (only
// the rows in view, plus a few, exist in the DOM; every row has the same height), thumbnails are
// loaded lazily by the rows that exist. Offline, it says so and reconnects by itself; once back,
// it re-reads the newest events over REST for what it missed.

import { get, post, query, currentSession, can } from '../api.js';
import { h, pageHeading, errorText, message } from '../ui.js';
import { LiveSocket } from '../live-socket.js';
import { eventRow } from '../event-row.js';
import * as lookup from '../lookup.js';

const ROW = 96; // px; keep in step with .feed article in style.css
const OVERSCAN = 6;
const KEEP = 5000; // events kept in memory; older ones are in the event search

export async function render(main) {
  let events = []; // newest first
  const byId = new Map();
  let pending = [];
  let scheduled = false;
  let matchedOnly = false;
  let unseen = 0;
  let socket = null;
  const rendered = new Map(); // id -> element
  const times = []; // arrival times of the last second, for the rate shown

  const status = h('span', { class: 'conn conn-connecting', role: 'status' }, 'Connecting…');
  const rate = h('span', { class: 'rate', 'aria-hidden': 'true' });
  const count = h('span', { class: 'count' });
  const jump = h('button', { type: 'button', class: 'jump', hidden: true, onclick: () => (feed.scrollTop = 0) });
  const errors = h('div', { class: 'status' });
  const inner = h('div', { class: 'feed-inner' });
  const feed = h('div', { class: 'feed', role: 'feed', 'aria-busy': 'false', 'aria-label': 'Live events, newest first', tabindex: '0' }, inner);
  const matchedBox = h('input', {
    type: 'checkbox',
    id: 'matched-only',
    onchange: () => {
      matchedOnly = matchedBox.checked;
      socket?.socket?.readyState === WebSocket.OPEN && sendFilters();
      reload();
    },
  });
  main.append(
    h(
      'div',
      { class: 'live-head' },
      pageHeading('Live events'),
      status,
      h('label', { class: 'inline', for: 'matched-only' }, matchedBox, ' Matched only'),
      count,
      rate,
      jump,
      can('operator') &&
        h(
          'button',
          {
            type: 'button',
            class: 'ack-all',
            onclick: async () => {
              if (!confirm('Acknowledge every matched event not acknowledged yet?')) return;
              try {
                const done = await post('/events/faces/acknowledge/' + query({ matched: 'true' }));
                errors.replaceChildren(message('ok', `${done.acknowledged} event(s) acknowledged.`));
              } catch (e) {
                errors.replaceChildren(message('error', errorText(e)));
              }
            },
          },
          'Acknowledge all matched',
        ),
    ),
    errors,
    feed,
  );

  function sendFilters() {
    socket.socket.send(JSON.stringify({ type: 'filters', data: matchedOnly ? { matched: true } : {} }));
  }

  function add(list) {
    let added = 0;
    for (const e of list) {
      if (byId.has(e.id)) continue;
      if (matchedOnly && !e.matched) continue;
      byId.set(e.id, e);
      added++;
    }
    return added;
  }

  function flush() {
    scheduled = false;
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const fresh = batch.filter((e) => !byId.has(e.id) && (!matchedOnly || e.matched));
    if (!fresh.length) return;
    add(fresh);
    fresh.sort((a, b) => (a.id < b.id ? 1 : -1));
    events = fresh.concat(events);
    // Out-of-order arrivals (several ingest replicas) are rare: sort only when needed.
    if (events.length > fresh.length && fresh[fresh.length - 1].id < events[fresh.length].id) {
      events.sort((a, b) => (a.id < b.id ? 1 : -1));
    }
    trim();
    // Reading older events: keep them where they are instead of pushing them down.
    if (feed.scrollTop > 0) {
      feed.scrollTop += fresh.length * ROW;
      unseen += fresh.length;
    }
    draw();
  }

  function trim() {
    if (events.length > KEEP) {
      for (const e of events.splice(KEEP)) byId.delete(e.id);
    }
  }

  function draw() {
    inner.style.height = events.length * ROW + 'px';
    const first = Math.max(0, Math.floor(feed.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(events.length, Math.ceil((feed.scrollTop + feed.clientHeight) / ROW) + OVERSCAN);
    const keep = new Set();
    for (let i = first; i < last; i++) {
      const e = events[i];
      keep.add(e.id);
      let el = rendered.get(e.id);
      if (!el) {
        el = eventRow(e, { onChange: () => redraw(e) });
        rendered.set(e.id, el);
        inner.append(el);
      }
      el.style.top = i * ROW + 'px';
      el.setAttribute('aria-posinset', i + 1);
      el.setAttribute('aria-setsize', events.length);
    }
    for (const [id, el] of rendered) {
      // Never pull the row holding the keyboard focus out from under it.
      if (!keep.has(id) && !el.contains(document.activeElement)) {
        el.remove();
        rendered.delete(id);
      }
    }
    if (feed.scrollTop < ROW) unseen = 0;
    jump.hidden = unseen === 0;
    jump.textContent = `${unseen} newer — back to top`;
    count.textContent = `${events.length} shown`;
    if (!events.length) inner.replaceChildren(h('p', { class: 'empty' }, 'Waiting for events…'));
    else inner.querySelector('.empty')?.remove();
  }

  function redraw(e) {
    const el = rendered.get(e.id);
    if (!el) return;
    const fresh = eventRow(e, { onChange: () => redraw(e) });
    fresh.style.top = el.style.top;
    for (const a of ['aria-posinset', 'aria-setsize']) fresh.setAttribute(a, el.getAttribute(a));
    const hadFocus = el.contains(document.activeElement);
    el.replaceWith(fresh);
    rendered.set(e.id, fresh);
    if (hadFocus) fresh.querySelector('a, button')?.focus();
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(flush);
    }
  }

  async function reload() {
    try {
      const page = await get('/events/faces/' + query({ limit: 100, matched: matchedOnly ? 'true' : '' }));
      events = [];
      byId.clear();
      for (const el of rendered.values()) el.remove();
      rendered.clear();
      pending = page.results.concat(pending);
      errors.replaceChildren();
      flush();
      draw();
    } catch (e) {
      errors.replaceChildren(message('error', errorText(e)));
    }
  }

  // Back online: what arrived while offline, newest first, at most a few pages (older events
  // are in the event search).
  async function resync() {
    try {
      let next = '/events/faces/' + query({ limit: 200, matched: matchedOnly ? 'true' : '', id_gt: events[0]?.id ?? '' });
      for (let pages = 0; next && pages < 5; pages++) {
        const page = await get(next);
        pending.push(...page.results);
        next = page.next_page;
      }
      schedule();
    } catch (e) {
      errors.replaceChildren(message('error', errorText(e)));
    }
  }

  // The ARIA feed pattern's keys: arrows and page keys move between events, Home and End to the
  // newest and oldest kept, Enter opens the focused event. The row is scrolled into view (and
  // so rendered) before it takes the focus.
  const MOVES = { ArrowDown: 1, PageDown: 1, ArrowUp: -1, PageUp: -1 };
  feed.addEventListener('keydown', (e) => {
    const current = e.target.closest?.('article.event');
    if (e.key === 'Enter' && current === e.target) {
      e.preventDefault();
      current.querySelector('a.open')?.click();
      return;
    }
    if (!events.length || !(e.key in MOVES || e.key === 'Home' || e.key === 'End')) return;
    const at = current ? Number(current.getAttribute('aria-posinset')) - 1 : -1;
    const next = e.key === 'Home' ? 0 : e.key === 'End' ? events.length - 1 : Math.min(events.length - 1, Math.max(0, at + MOVES[e.key]));
    e.preventDefault();
    const top = next * ROW;
    if (top < feed.scrollTop) feed.scrollTop = top;
    else if (top + ROW > feed.scrollTop + feed.clientHeight) feed.scrollTop = top + ROW - feed.clientHeight;
    draw();
    rendered.get(events[next].id)?.focus({ preventScroll: true });
  });
  feed.addEventListener('scroll', () => requestAnimationFrame(draw), { passive: true });
  const resize = () => draw();
  window.addEventListener('resize', resize);

  // For the browser test and for anyone curious: how many rows exist against how many are listed.
  window.__ffsecFeed = () => ({ listed: events.length, inDom: rendered.size });
  // For the browser test: the socket drops as on a network failure.
  window.__ffsecDropSocket = () => socket?.socket?.close();

  await lookup.loadNames().catch((e) => errors.replaceChildren(message('error', errorText(e))));

  socket = new LiveSocket(currentSession().token, {
    status: (state, delay) => {
      status.className = `conn conn-${state}`;
      status.textContent =
        state === 'live' ? 'Live' : state === 'offline' ? `Offline — reconnecting in ${Math.round(delay / 1000)} s…` : 'Connecting…';
      if (state === 'live' && matchedOnly) sendFilters();
    },
    resync,
    created: (e) => {
      const now = performance.now();
      times.push(now);
      pending.push(e);
      schedule();
    },
    updated: (e) => {
      const known = byId.get(e.id);
      if (known) {
        Object.assign(known, e);
        redraw(known);
      }
    },
    acknowledged: () => {
      // "Acknowledge all": every matched event shown is now acknowledged.
      for (const e of events) {
        if (e.matched && !e.acknowledged) {
          e.acknowledged = true;
          redraw(e);
        }
      }
    },
    tokenInvalid: () => get('/users/me/').catch(() => {}), // a 401 there ends the session
  });
  await reload();

  const rateTimer = setInterval(() => {
    const now = performance.now();
    while (times.length && now - times[0] > 1000) times.shift();
    rate.textContent = times.length ? `${times.length}/s` : '';
  }, 500);


  return () => {
    socket?.stop();
    clearInterval(rateTimer);
    window.removeEventListener('resize', resize);
    delete window.__ffsecFeed;
    delete window.__ffsecDropSocket;
  };
}
