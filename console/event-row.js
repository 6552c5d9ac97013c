// One event as a row: face crop beside the matched dossier's photo, confidence, camera, time,
// attributes; matched events stand out and can be acknowledged in place.

import { patch, can } from './api.js';
import { h, fmtDate, fmtConfidence, errorText } from './ui.js';
import * as lookup from './lookup.js';

export function eventRow(event, { onChange } = {}) {
  const matched = event.matched;
  const dossierPhoto = h('img', { class: 'thumb dossier-photo', alt: '', width: 72, height: 72, decoding: 'async' });
  const dossierName = h('span', { class: 'dossier-name' });
  if (matched && event.matched_dossier != null) {
    lookup.dossier(event.matched_dossier).then(
      (d) => {
        dossierName.textContent = d.name;
        dossierPhoto.alt = `Photo of ${d.name}`;
      },
      () => (dossierName.textContent = `dossier ${event.matched_dossier}`),
    );
    if (event.matched_face != null) {
      lookup.dossierFace(event.matched_face).then(
        (f) => f.thumbnail && (dossierPhoto.src = f.thumbnail),
        () => {},
      );
    }
  }
  const listChips = (event.matched_lists || []).map((id) => {
    const l = lookup.list(id);
    return h('span', { class: 'chip', style: l?.color ? `--chip:#${l.color}` : null }, l?.name ?? `list ${id}`);
  });
  const ackArea = h('span', { class: 'ack' });
  renderAck(ackArea, event, onChange);
  return h(
    'article',
    { class: `event ${matched ? 'matched' : 'unmatched'} ${event.acknowledged ? 'acknowledged' : ''}`, tabindex: '-1', dataset: { id: event.id }, 'aria-label': `${matched ? 'Matched' : 'Unmatched'} face at ${lookup.cameraName(event.camera)}, ${fmtDate(event.created_date)}` },
    h('img', { class: 'thumb', src: event.thumbnail || '', alt: 'Detected face', width: 72, height: 72, loading: 'lazy', decoding: 'async' }),
    matched ? dossierPhoto : h('span', { class: 'thumb placeholder', 'aria-hidden': 'true' }, '?'),
    h(
      'div',
      { class: 'facts' },
      h(
        'div',
        { class: 'line1' },
        matched ? h('strong', { class: 'badge match' }, 'Match') : h('span', { class: 'badge' }, 'No match'),
        matched ? dossierName : null,
        matched ? h('span', { class: 'confidence', title: 'confidence' }, fmtConfidence(event.confidence)) : null,
        listChips,
      ),
      h(
        'div',
        { class: 'line2' },
        h('span', { class: 'camera' }, lookup.cameraName(event.camera)),
        ' · ',
        h('time', { datetime: event.created_date }, fmtDate(event.created_date)),
        event.features && Object.keys(event.features).length ? [' · ', h('span', { class: 'attrs' }, lookup.attributes(event.features))] : null,
      ),
    ),
    h('div', { class: 'actions' }, ackArea, h('a', { href: `/console/events/${event.id}`, class: 'open' }, 'Details', h('span', { class: 'sr-only' }, ` of event ${event.id}`))),
  );
}

function renderAck(area, event, onChange) {
  if (!event.matched) {
    area.replaceChildren();
    return;
  }
  if (event.acknowledged) {
    area.replaceChildren(h('span', { class: 'acked' }, '✓ Acknowledged'));
    return;
  }
  if (!can('operator')) {
    area.replaceChildren(h('span', { class: 'unacked' }, 'Not acknowledged'));
    return;
  }
  const button = h(
    'button',
    {
      type: 'button',
      class: 'ack-button',
      onclick: async () => {
        button.disabled = true;
        try {
          const updated = await patch(`/events/faces/${event.id}/`, { acknowledged: true });
          Object.assign(event, updated);
          onChange?.(event);
          renderAck(area, event, onChange);
        } catch (e) {
          button.disabled = false;
          area.append(h('span', { class: 'msg-error', role: 'alert' }, errorText(e)));
        }
      },
    },
    'Acknowledge',
  );
  area.replaceChildren(button);
}
