// One dossier: edit and deactivate it, its photos (upload by drag and drop or file picker; the
// server's refusal shown with its reason), and the events it matched.

import { get, post, patch, del, can, query } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, errorText, panelForm } from '../ui.js';
import { eventRow } from '../event-row.js';
import * as lookup from '../lookup.js';

export async function render(main, { params: [id] }) {
  let dossier;
  try {
    [dossier] = await Promise.all([get(`/dossiers/${id}/`), lookup.loadNames()]);
  } catch (e) {
    main.append(pageHeading('Dossier'), message('error', errorText(e)));
    return;
  }
  const operator = can('operator');
  const heading = pageHeading(`Dossier: ${dossier.name}`);
  const editArea = h('section', { class: 'panel', 'aria-label': 'Dossier details' });
  const facesArea = h('section', { 'aria-labelledby': 'faces-h' });
  const eventsArea = h('section', { 'aria-labelledby': 'events-h' });
  main.append(heading, editArea, facesArea, eventsArea);

  function showEdit() {
    const name = h('input', { name: 'name', value: dossier.name, required: true, disabled: !operator });
    const comment = h('input', { name: 'comment', value: dossier.comment, disabled: !operator });
    const lists = h(
      'select',
      { name: 'dossier_lists', multiple: true, size: 3, disabled: !operator },
      lookup.lists().map((l) => h('option', { value: l.id, selected: dossier.dossier_lists.includes(l.id) }, l.name)),
    );
    const status = h('div', { 'aria-live': 'polite' });
    const save = (body, done) =>
      attempt(status, () => patch(`/dossiers/${dossier.id}/`, body), done).then((d) => {
        if (d) {
          dossier = d;
          heading.textContent = `Dossier: ${d.name}`;
          showEdit();
          clear(status, message('ok', done));
          editArea.querySelector('[role=status]')?.focus?.();
        }
      });
    clear(
      editArea,
      h(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            save({ name: name.value, comment: comment.value, dossier_lists: [...lists.selectedOptions].map((o) => Number(o.value)) }, 'Saved.');
          },
        },
        h('div', { class: 'grid' }, field('Name', name), field('Watch lists', lists), field('Comment', comment)),
        h('p', {}, dossier.active ? 'Active: its faces are matched.' : 'Deactivated: its faces are not matched.'),
        status,
        operator &&
          h(
            'div',
            { class: 'row' },
            h('button', { type: 'submit', class: 'primary' }, 'Save'),
            h('button', { type: 'button', class: dossier.active ? 'danger' : '', onclick: () => save({ active: !dossier.active }, dossier.active ? 'Dossier deactivated.' : 'Dossier activated.') }, dossier.active ? 'Deactivate dossier' : 'Activate dossier'),
          ),
      ),
    );
  }

  async function showFaces(notice) {
    let faces;
    try {
      faces = (await get('/dossier-faces/' + query({ dossier: dossier.id, limit: 100 }))).results;
    } catch (e) {
      clear(facesArea, message('error', errorText(e)));
      return;
    }
    const status = h('div', { 'aria-live': 'polite' }, notice && message('ok', notice));
    clear(
      facesArea,
      h('h2', { id: 'faces-h' }, `Photos (${faces.length})`),
      faces.length
        ? h(
            'div',
            { class: 'faces' },
            faces.map((f) =>
              h(
                'figure',
                { dataset: { faceId: f.id } },
                h('img', { src: f.thumbnail || '', alt: `Photo ${f.id} of ${dossier.name}`, loading: 'lazy' }),
                h('figcaption', {}, f.active ? 'active' : 'inactive', ` · quality ${f.quality}`),
                operator &&
                  h(
                    'div',
                    { class: 'row', style: 'justify-content:center' },
                    h('button', { type: 'button', onclick: () => attempt(status, () => patch(`/dossier-faces/${f.id}/`, { active: !f.active })).then((r) => r && showFaces()) }, f.active ? 'Deactivate' : 'Activate', h('span', { class: 'sr-only' }, ` photo ${f.id}`)),
                    h('button', { type: 'button', class: 'danger', onclick: () => confirm('Delete this photo?') && attempt(status, () => del(`/dossier-faces/${f.id}/`)).then(() => showFaces('Photo deleted.')) }, 'Delete', h('span', { class: 'sr-only' }, ` photo ${f.id}`)),
                  ),
              ),
            ),
          )
        : h('p', { class: 'empty' }, 'No photo yet: this dossier matches nothing.'),
      status,
      operator && uploadForm(),
    );
  }

  function uploadForm() {
    let file = null;
    const preview = h('img', { alt: '', hidden: true, style: 'width:112px;height:112px;object-fit:cover;border-radius:6px' });
    const chosen = h('span', {}, 'No photo chosen.');
    const picker = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', class: 'sr-only', id: 'photo-file' });
    const choose = (f) => {
      file = f;
      chosen.textContent = f ? `${f.name} (${Math.round(f.size / 1024)} KiB)` : 'No photo chosen.';
      preview.hidden = !f;
      if (preview.src) URL.revokeObjectURL(preview.src);
      if (f) preview.src = URL.createObjectURL(f);
    };
    picker.addEventListener('change', () => choose(picker.files[0] || null));
    const drop = h(
      'div',
      { class: 'drop', 'data-testid': 'drop-zone' },
      h('p', {}, 'Drop a photo here, or ', h('label', { for: 'photo-file', class: 'button', tabindex: '0', onkeydown: (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), picker.click()) }, 'choose a file'), '.'),
      picker,
      h('div', { class: 'row', style: 'justify-content:center' }, preview, chosen),
    );
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      choose(e.dataTransfer.files[0] || null);
    });
    const facen = h('textarea', { name: 'facen', rows: 2 });
    const quality = h('input', { name: 'quality', type: 'number', step: 'any' });
    const status = h('div', { 'aria-live': 'polite' });
    return panelForm(
      'Add a photo',
      async () => {
        if (!file) {
          clear(status, message('error', 'Choose or drop a photo first.'));
          return;
        }
        const form = new FormData();
        form.append('dossier', String(dossier.id));
        form.append('source_photo', file, file.name);
        if (facen.value.trim()) form.append('facen', facen.value.trim());
        if (quality.value !== '') form.append('quality', quality.value);
        const created = await attempt(status, () => post('/dossier-faces/', form));
        if (created) showFaces('Photo added.');
      },
      h('h3', {}, 'Add a photo'),
      drop,
      h(
        'details',
        {},
        h('summary', {}, 'Without a recognition service: feature vector and quality'),
        h('div', { class: 'grid' }, field('Feature vector (facen, base64)', facen, 'as a video worker computes it'), field('Quality', quality, 'below MINIMUM_DOSSIER_QUALITY the photo is refused')),
      ),
      status,
      h('button', { type: 'submit', class: 'primary' }, 'Upload photo'),
    );
  }

  async function showEvents() {
    try {
      const page = await get('/events/faces/' + query({ matched_dossier: dossier.id, limit: 20 }));
      clear(
        eventsArea,
        h('h2', { id: 'events-h' }, `Events of this dossier (${page.count})`),
        h('div', { class: 'results' }, page.results.length ? page.results.map((e) => eventRow(e)) : h('p', { class: 'empty' }, 'No event matched this dossier yet.')),
        page.count > page.results.length && h('a', { href: `/console/events?matched_dossier=${dossier.id}` }, 'All of them in the event search'),
      );
    } catch (e) {
      clear(eventsArea, message('error', errorText(e)));
    }
  }

  showEdit();
  await Promise.all([showFaces(), showEvents()]);
}
