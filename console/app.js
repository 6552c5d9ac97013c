// The console's shell: who is logged in, the navigation their role allows, and a router over
// /console/<page> (history API; gateway-api answers every console route with this page).

import { currentSession, logout, onSessionEnd, can } from './api.js';
import { h, clear, pageHeading } from './ui.js';
import { forget } from './lookup.js';

const main = document.getElementById('main');
const header = document.querySelector('header.top');

// [path pattern, module, least role, nav label]
const ROUTES = [
  [/^login$/, './pages/login.js', null, null],
  [/^(live)?$/, './pages/live.js', 'viewer', 'Live'],
  [/^events$/, './pages/events.js', 'viewer', 'Events'],
  [/^events\/([0-9a-f-]+)$/, './pages/event.js', 'viewer', null],
  [/^watch-lists$/, './pages/watch-lists.js', 'viewer', 'Watch lists'],
  [/^dossiers\/(\d+)$/, './pages/dossier.js', 'viewer', null],
  [/^cameras$/, './pages/cameras.js', 'viewer', 'Cameras'],
  [/^hooks$/, './pages/hooks.js', 'admin', 'Webhooks'],
  [/^hooks\/(\d+)$/, './pages/hook.js', 'admin', null],
  [/^users$/, './pages/users.js', 'admin', 'Users'],
];
const NAV_PATHS = { Live: 'live', Events: 'events', 'Watch lists': 'watch-lists', Cameras: 'cameras', Webhooks: 'hooks', Users: 'users' };

let cleanup = null;
let expiryTimer = null;
let endReason = null;
let routeGeneration = 0;
let shown = ''; // the path and query of the page on screen

export function navigate(path, replace = false) {
  const url = path.startsWith('/') ? path : '/console/' + path;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route();
}

function renderNav(active) {
  const nav = document.getElementById('nav');
  clear(
    nav,
    ROUTES.filter(([, , least, label]) => label && can(least)).map(([, , , label]) => {
      const path = NAV_PATHS[label];
      return h('li', {}, h('a', { href: '/console/' + path, 'aria-current': active === path ? 'page' : false }, label));
    }),
  );
  const s = currentSession();
  document.getElementById('who').textContent = s ? `${s.user.username} (${s.user.role})` : '';
}

async function route() {
  shown = location.pathname + location.search;
  const generation = ++routeGeneration;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A page's teardown must not stop the next page.
    }
    cleanup = null;
  }
  const tail = location.pathname.replace(/^\/console\/?/, '').replace(/\/$/, '');
  const session = currentSession();
  if (!session && tail !== 'login') {
    const back = tail && tail !== 'login' ? '?next=' + encodeURIComponent(location.pathname + location.search) : '';
    history.replaceState(null, '', '/console/login' + back);
    return route();
  }
  const match = ROUTES.map(([pattern, module, least]) => [tail.match(pattern), module, least]).find(([m]) => m);
  header.hidden = !session;
  if (session) {
    renderNav(tail.split('/')[0] || 'live');
    scheduleExpiry(session);
  }
  if (!match) {
    clear(main, pageHeading('Not found'), h('p', {}, 'No such page. ', h('a', { href: '/console/live' }, 'Go to the live feed')));
    return;
  }
  const [m, module, least] = match;
  if (least && !can(least)) {
    clear(main, pageHeading('Not allowed'), h('p', {}, `This page needs the ${least} role.`));
    return;
  }
  const page = await import(module);
  if (generation !== routeGeneration) return;
  // A view of its own: a page still loading when the route changes writes into a detached node.
  const view = h('div', { class: 'view' });
  clear(main, view);
  const reason = endReason;
  endReason = null;
  const done = (await page.render(view, { params: m.slice(1), query: new URLSearchParams(location.search), reason, navigate })) || null;
  // Navigated away while the page was still loading: stop it (its socket, timers) at once.
  if (generation !== routeGeneration) done?.();
  else cleanup = done;
}

function scheduleExpiry(session) {
  clearTimeout(expiryTimer);
  const left = Date.parse(session.expires) - Date.now();
  // setTimeout's limit is ~24.8 days; a longer token is checked again on the next page anyway.
  if (left > 0 && left < 2 ** 31 - 1) expiryTimer = setTimeout(() => onExpired('expired'), left);
}

function onExpired(reason) {
  clearTimeout(expiryTimer);
  forget();
  endReason = reason;
  if (!location.pathname.startsWith('/console/login')) {
    // Back to this page after logging in again (not after a deliberate log out).
    const back = reason === 'logged-out' ? '' : '?next=' + encodeURIComponent(location.pathname + location.search);
    navigate('/console/login' + back, true);
  }
}

onSessionEnd(onExpired);

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href^="/console/"]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
// Back and forward; a change of the #fragment alone (the skip link) is not a new page.
window.addEventListener('popstate', () => {
  if (location.pathname + location.search !== shown) route();
});
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
document.getElementById('logout').addEventListener('click', () => logout());

route();
