// One event: the full frame with the face's box drawn on it, the crop beside the matched
// dossier's photo, and every field.

import { get } from '../api.js';
import { h, pageHeading, message, errorText, fmtDate, fmtConfidence } from '../ui.js';
import { eventRow } from '../event-row.js';
import * as lookup from '../lookup.js';

export async function render(main, { params: [id] }) {
  main.append(pageHeading('Event'));
  let event;
  try {
    [event] = await Promise.all([get(`/events/faces/${id}/`), lookup.loadNames()]);
  } catch (e) {
    main.append(message('error', errorText(e)));
    return;
  }
  const canvas = h('canvas', { 'aria-hidden': 'true' });
  const frame = h('img', { src: event.fullframe || '', alt: `Full frame from ${lookup.cameraName(event.camera)}, the face outlined` });
  const draw = () => {
    canvas.width = frame.naturalWidth;
    canvas.height = frame.naturalHeight;
    const g = canvas.getContext('2d');
    const { frame_coords_left: l, frame_coords_top: t, frame_coords_right: r, frame_coords_bottom: b } = event;
    if ([l, t, r, b].some((v) => v == null)) return;
    g.lineWidth = Math.max(3, frame.naturalWidth / 200);
    g.strokeStyle = event.matched ? '#e3342f' : '#f2a900';
    g.strokeRect(l, t, r - l, b - t);
    canvas.dataset.drawn = `${l},${t},${r},${b}`;
  };
  frame.addEventListener('load', draw);
  if (frame.complete && frame.naturalWidth) draw();

  const dossier = event.matched_dossier != null ? h('a', { href: `/console/dossiers/${event.matched_dossier}` }, `dossier ${event.matched_dossier}`) : 'none';
  if (event.matched_dossier != null) lookup.dossier(event.matched_dossier).then((d) => (dossier.textContent = d.name), () => {});
  const props = [
    ['Camera', lookup.cameraName(event.camera)],
    ['Camera group', lookup.groupName(event.camera_group)],
    ['Detected', fmtDate(event.created_date)],
    ['Matched', event.matched ? 'yes' : 'no'],
    ['Dossier', dossier],
    ['Watch lists', (event.matched_lists || []).map((l) => lookup.list(l)?.name ?? l).join(', ') || 'none'],
    ['Confidence', fmtConfidence(event.confidence)],
    ['Quality', event.quality],
    ['Attributes', lookup.attributes(event.features) || 'none'],
    ['Best shot', event.bs_type],
    ['Box', [event.frame_coords_left, event.frame_coords_top, event.frame_coords_right, event.frame_coords_bottom].join(', ')],
    ['Detector', JSON.stringify(event.detector_params ?? {})],
    ['Acknowledged', event.acknowledged ? `yes, ${fmtDate(event.acknowledged_date)} by user ${event.acknowledged_by}` : 'no'],
    ['Id', h('code', {}, event.id)],
  ];
  main.append(
    h('div', { class: 'results' }, eventRow(event)),
    h(
      'div',
      { class: 'row', style: 'align-items:flex-start' },
      h('div', { style: 'flex:2 1 480px' }, h('figure', { class: 'frame', style: 'margin:0' }, frame, canvas)),
      h('dl', { class: 'props panel', style: 'flex:1 1 300px' }, props.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    ),
  );
}
