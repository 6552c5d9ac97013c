// The public REST API, as any client of it sees it: a token per browser tab (sessionStorage),
// `Authorization: Token <t>` on every call, errors as {code, desc, param}.

const KEY = 'ffsec.session';

/** An error answered by the API, carrying the server's own code and reason. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.desc || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'HTTP_' + status;
    this.param = body?.param || null;
  }
}

let session = load();
const expiredListeners = new Set();

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (s && s.expires && Date.parse(s.expires) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function currentSession() {
  return session;
}

/** Called with a reason when the token stops working (expired, revoked, logged out elsewhere). */
export function onSessionEnd(listener) {
  expiredListeners.add(listener);
}

function end(reason) {
  session = null;
  sessionStorage.removeItem(KEY);
  for (const l of expiredListeners) l(reason);
}

export function role() {
  return session?.user?.role || null;
}

const RANK = { viewer: 0, operator: 1, admin: 2 };
/** Whether the logged-in user has at least `least` ('viewer' | 'operator' | 'admin'). */
export function can(least) {
  const r = role();
  return r != null && RANK[r] >= RANK[least];
}

export async function login(username, password) {
  const response = await fetch('/auth/login/', {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + btoa(unescape(encodeURIComponent(`${username}:${password}`))),
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ video_auth_token: '', uuid: 'ffsec-console', mobile: false, device_info: {} }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  session = { token: body.token, user: body.user, expires: body.token_expiration_datetime };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function logout() {
  if (session) {
    try {
      await request('POST', '/auth/logout/');
    } catch {
      // The token is dropped here either way.
    }
  }
  end('logged-out');
}

/** A path for fetch: the API's absolute next_page URLs name EXTERNAL_ADDRESS, which may be
 * another host name for this same server than the one the browser used. */
export function localPath(url) {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
}

export async function request(method, path, body) {
  // Already ended (and reported once): a page still loading just stops here.
  if (!session) throw new ApiError(401, { code: 'UNAUTHORIZED', desc: 'not logged in' });
  const headers = { Authorization: `Token ${session.token}` };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(localPath(path), { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, { code: 'NETWORK', desc: 'the server cannot be reached' });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && session) {
    end('expired');
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);
/** Creates an object in `collection` (`/cameras/`), or changes `existing` there. */
export const save = (collection, existing, body) => (existing ? patch(`${collection}${existing.id}/`, body) : post(collection, body));

/** Every object of a small offset-paged list (cameras, groups, watch lists). */
export async function all(path) {
  const out = [];
  let next = path + (path.includes('?') ? '&' : '?') + 'limit=1000';
  while (next) {
    const page = await get(next);
    out.push(...page.results);
    next = page.next_page;
  }
  return out;
}

/** Query string of a filter object; arrays become repeated keys, empty values are left out. */
export function query(filters) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== '' && v != null) params.append(key, String(v));
  }
  const s = params.toString();
  return s ? '?' + s : '';
}
