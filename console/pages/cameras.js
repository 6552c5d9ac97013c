// Cameras and camera groups, with what a video worker needs to post a camera's faces: the ingest
// URL, the token and the camera id. The worker token (VIDEO_DETECTOR_TOKEN) is a server secret the
// API never returns, so the snippet names where to find it; a camera's own external-detector
// token is shown to admins, as the API gives it to them.

import { post, patch, save, can } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, table, formSlot, rowActions, panelForm } from '../ui.js';
import * as lookup from '../lookup.js';

const INGEST_KEY = 'ffsec.ingest-address';

export async function render(main) {
  main.append(pageHeading('Cameras and groups'));
  const admin = can('admin');
  const area = h('div');
  const ingest = h('input', {
    name: 'ingest',
    type: 'url',
    value: localStorage.getItem(INGEST_KEY) || `${location.protocol}//${location.hostname}:18300`,
    onchange: () => {
      localStorage.setItem(INGEST_KEY, ingest.value);
      show();
    },
  });
  main.append(h('div', { class: 'panel' }, field('Ingest address (facerouter-ingest, as workers reach it)', ingest, 'used in the worker setup snippets below; default port 18300')), area);

  function snippet(c) {
    const base = ingest.value.replace(/\/$/, '');
    const lines = [
      `# findface-video-worker / any worker posting frames for camera "${c.name}"`,
      `URL:       ${base}/video-detector/frame/`,
      `Token:     Authorization: Token <VIDEO_DETECTOR_TOKEN from the [FFSECURITY] section of ffsec.toml>`,
      `Camera id: ${c.id}`,
      '',
      `curl -H "Authorization: Token $VIDEO_DETECTOR_TOKEN" -F cam_id=${c.id} -F 'bbox=[[10,20,110,140]]' \\`,
      `     -F normalized=@face.jpg -F photo=@frame.jpg ${base}/video-detector/frame/`,
    ];
    if (c.external_detector_token) {
      lines.push(
        '',
        '# an external detector posting full frames for this camera',
        `curl -F token=${c.external_detector_token} -F camera=${c.id} -F fullframe=@frame.jpg ${base}/events/faces/add/`,
      );
    }
    return h('details', {}, h('summary', {}, 'Worker setup', h('span', { class: 'sr-only' }, ` for ${c.name}`)), h('pre', { tabindex: '0' }, lines.join('\n')));
  }

  async function show() {
    await lookup.loadNames(true);
    const status = h('div', { 'aria-live': 'polite' });
    const cameras = lookup.cameras();
    clear(
      area,
      status,
      h('h2', {}, 'Cameras'),
      table('Cameras', [
        ['Id', (c) => c.id],
        ['Name', (c) => c.name],
        ['Group', (c) => lookup.groupName(c.group)],
        ['Active', (c) => (c.active ? 'yes' : 'no')],
        ['Stream', (c) => c.url],
        ['Setup', snippet],
        ['', (c) => admin && rowActions(`camera ${c.name}`, c.active, () => slot.edit(c), () => attempt(status, () => patch(`/cameras/${c.id}/`, { active: !c.active })).then((r) => r && show()))],
      ], cameras, 'No camera yet.'),
      admin && (slot = formSlot(cameraForm)),
      h('h2', {}, 'Camera groups'),
      table('Camera groups', [
        ['Id', (g) => g.id],
        ['Name', (g) => g.name],
        ['Cameras', (g) => cameras.filter((c) => c.group === g.id).length],
        ['Comment', (g) => g.comment],
      ], lookup.groups()),
      admin && groupForm(),
    );
  }

  let slot = null;

  /** The form for a new camera, or for editing `existing`. */
  function cameraForm(existing) {
    const name = h('input', { name: 'name', required: true, value: existing?.name ?? '' });
    const group = h('select', { name: 'group' }, lookup.groups().map((g) => h('option', { value: g.id, selected: existing?.group === g.id }, g.name)));
    const url = h('input', { name: 'url', placeholder: 'rtsp://…', value: existing?.url ?? '' });
    const threshold = h('input', { name: 'confidence_threshold', type: 'number', min: 0, max: 1, step: 0.001, value: existing?.confidence_threshold ?? '' });
    const status = h('div', { 'aria-live': 'polite' });
    const title = existing ? `Edit camera ${existing.name}` : 'New camera';
    return panelForm(
      title,
      async () => {
        const body = { name: name.value, group: Number(group.value), url: url.value };
        if (threshold.value) body.confidence_threshold = Number(threshold.value);
        if (await attempt(status, () => save('/cameras/', existing, body))) show();
      },
      h('h3', {}, title),
      h('div', { class: 'grid' }, field('Camera name', name), field('Camera group', group), field('Stream URL', url), field('Camera threshold', threshold, 'empty: the global one')),
      status,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, existing ? 'Save camera' : 'Create camera'),
        existing && h('button', { type: 'button', onclick: () => slot.reset() }, 'Cancel'),
      ),
    );
  }

  function groupForm() {
    const name = h('input', { name: 'name', required: true });
    const status = h('div', { 'aria-live': 'polite' });
    return panelForm(
      'New camera group',
      async () => {
        if (await attempt(status, () => post('/camera-groups/', { name: name.value }))) show();
      },
      h('div', { class: 'row' }, field('Group name', name), h('button', { type: 'submit', class: 'primary' }, 'Create group')),
      status,
    );
  }

  try {
    await show();
  } catch (e) {
    area.append(message('error', e.message));
  }
}
