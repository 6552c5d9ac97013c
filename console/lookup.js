// Names and photos the event views show beside ids, fetched once and kept (a feed at 50 events/s
// names the same few cameras and dossiers over and over). Signed media URLs expire, so cached
// objects are refetched after a while.

import { all, get } from './api.js';

const TTL_MS = 10 * 60 * 1000;
const caches = new Map();

function cached(kind, id, load) {
  let cache = caches.get(kind);
  if (!cache) caches.set(kind, (cache = new Map()));
  const hit = cache.get(id);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
  const value = load().catch((e) => {
    cache.delete(id);
    throw e;
  });
  cache.set(id, { at: Date.now(), value });
  return value;
}

export const dossier = (id) => cached('dossier', id, () => get(`/dossiers/${id}/`));
export const dossierFace = (id) => cached('face', id, () => get(`/dossier-faces/${id}/`));

let cameraMap = new Map();
let cameraLoad = null;
let groupMap = new Map();
let listMap = new Map();

/** Cameras, camera groups and watch lists by id (reloaded when asked, e.g. after an edit). */
export async function loadNames(force = false) {
  if (!cameraLoad || force) {
    cameraLoad = Promise.all([all('/cameras/'), all('/camera-groups/'), all('/dossier-lists/')]).then(
      ([cameras, groups, lists]) => {
        cameraMap = new Map(cameras.map((c) => [c.id, c]));
        groupMap = new Map(groups.map((g) => [g.id, g]));
        listMap = new Map(lists.map((l) => [l.id, l]));
      },
      (e) => {
        cameraLoad = null;
        throw e;
      },
    );
  }
  return cameraLoad;
}

export const cameraName = (id) => cameraMap.get(id)?.name ?? `camera ${id}`;
export const groupName = (id) => groupMap.get(id)?.name ?? `group ${id}`;
export const list = (id) => listMap.get(id);
export const cameras = () => [...cameraMap.values()];
export const groups = () => [...groupMap.values()];
export const lists = () => [...listMap.values()];

export function forget() {
  caches.clear();
  cameraLoad = null;
}

/** "gender: male (92%) · age: 31" from an event's features. */
export function attributes(features) {
  if (!features || typeof features !== 'object') return '';
  return Object.entries(features)
    .map(([key, value]) => {
      const name = value && typeof value === 'object' ? value.name : value;
      const shown = typeof name === 'number' ? Math.round(name) : name;
      const confidence = value && typeof value === 'object' && value.confidence != null ? ` (${Math.round(value.confidence * 100)}%)` : '';
      return `${key}: ${shown}${confidence}`;
    })
    .join(' · ');
}
