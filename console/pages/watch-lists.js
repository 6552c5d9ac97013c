// Watch lists and their dossiers: create, edit, deactivate. Refusals show the server's reason.

import { get, post, patch, save, can, query } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, table, formSlot, rowActions, panelForm } from '../ui.js';
import * as lookup from '../lookup.js';

export async function render(main, { navigate }) {
  main.append(pageHeading('Watch lists and dossiers'));
  const listsArea = h('section', { 'aria-labelledby': 'lists-h' });
  const dossiersArea = h('section', { 'aria-labelledby': 'dossiers-h' });
  main.append(listsArea, dossiersArea);
  const operator = can('operator');

  async function showLists() {
    await lookup.loadNames(true);
    const lists = lookup.lists();
    const status = h('div', { 'aria-live': 'polite' });
    clear(
      listsArea,
      h('h2', { id: 'lists-h' }, 'Watch lists'),
      status,
      table('Watch lists', [
        ['Name', (l) => h('span', { class: 'chip', style: `--chip:#${l.color}` }, l.name)],
        ['Comment', (l) => l.comment],
        ['Threshold', (l) => l.confidence_threshold ?? 'default'],
        ['Active', (l) => (l.active ? 'yes' : 'no')],
        ['', (l) => operator && rowActions(l.name, l.active, () => slot.edit(l), () => attempt(status, () => patch(`/dossier-lists/${l.id}/`, { active: !l.active })).then((r) => r && showAll()))],
      ], lists, 'No watch list yet.'),
      operator && (slot = formSlot(listForm)),
    );
  }

  let slot = null;

  /** The form for a new watch list, or for editing `existing`. */
  function listForm(existing) {
    const name = h('input', { name: 'name', required: true, value: existing?.name ?? '' });
    const color = h('input', { name: 'color', type: 'color', value: `#${existing?.color ?? 'b3261e'}` });
    const threshold = h('input', { name: 'confidence_threshold', type: 'number', min: 0, max: 1, step: 0.001, value: existing?.confidence_threshold ?? '' });
    const comment = h('input', { name: 'comment', value: existing?.comment ?? '' });
    const status = h('div', { 'aria-live': 'polite' });
    const title = existing ? `Edit watch list ${existing.name}` : 'New watch list';
    return panelForm(
      title,
      async () => {
        const body = { name: name.value, color: color.value.slice(1), comment: comment.value };
        if (threshold.value) body.confidence_threshold = Number(threshold.value);
        if (await attempt(status, () => save('/dossier-lists/', existing, body))) showAll();
      },
      h('h3', {}, title),
      h('div', { class: 'grid' }, field('Watch list name', name), field('Colour', color), field('Own threshold', threshold, 'empty: the global one'), field('Comment', comment)),
      status,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, existing ? 'Save watch list' : 'Create watch list'),
        existing && h('button', { type: 'button', onclick: () => slot.reset() }, 'Cancel'),
      ),
    );
  }

  let dossierPage = 1;
  async function showDossiers() {
    const status = h('div', { 'aria-live': 'polite' });
    let page;
    try {
      page = await get('/dossiers/' + query({ limit: 50, page: dossierPage }));
    } catch (e) {
      clear(dossiersArea, h('h2', { id: 'dossiers-h' }, 'Dossiers'), message('error', e.message));
      return;
    }
    clear(
      dossiersArea,
      h('h2', { id: 'dossiers-h' }, `Dossiers (${page.count})`),
      status,
      table('Dossiers', [
        ['Name', (d) => h('a', { href: `/console/dossiers/${d.id}` }, d.name)],
        ['Watch lists', (d) => d.dossier_lists.map((id) => lookup.list(id)?.name ?? id).join(', ')],
        ['Active', (d) => (d.active ? 'yes' : 'no')],
        ['Comment', (d) => d.comment],
      ], page.results, 'No dossier yet.'),
      h(
        'div',
        { class: 'row' },
        dossierPage > 1 && h('button', { type: 'button', onclick: () => (dossierPage--, showDossiers()) }, 'Previous dossiers'),
        page.next_page && h('button', { type: 'button', onclick: () => (dossierPage++, showDossiers()) }, 'Next dossiers'),
      ),
      operator && dossierForm(),
    );
  }

  function dossierForm() {
    const name = h('input', { name: 'name', required: true });
    const comment = h('input', { name: 'comment' });
    const lists = h('select', { name: 'dossier_lists', multiple: true, size: 3 }, lookup.lists().map((l) => h('option', { value: l.id }, l.name)));
    const status = h('div', { 'aria-live': 'polite' });
    return panelForm(
      'New dossier',
      async () => {
        const body = { name: name.value, comment: comment.value, dossier_lists: [...lists.selectedOptions].map((o) => Number(o.value)) };
        const created = await attempt(status, () => post('/dossiers/', body));
        if (created) navigate(`/console/dossiers/${created.id}`);
      },
      h('h3', {}, 'New dossier'),
      h('div', { class: 'grid' }, field('Dossier name', name), field('In watch lists', lists, 'at least one'), field('Dossier comment', comment)),
      status,
      h('button', { type: 'submit', class: 'primary' }, 'Create dossier'),
    );
  }

  async function showAll() {
    await showLists();
    await showDossiers();
  }
  try {
    await showAll();
  } catch (e) {
    main.append(message('error', e.message));
  }
}
