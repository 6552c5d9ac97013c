// Users (admin only): create, change role, deactivate.

import { all, post, patch } from '../api.js';
import { h, clear, field, pageHeading, message, attempt, table, errorText, fmtDate, panelForm } from '../ui.js';

const ROLES = ['viewer', 'operator', 'admin'];

export async function render(main) {
  main.append(pageHeading('Users'));
  const area = h('div');
  main.append(area);

  async function show(notice) {
    let users;
    try {
      users = await all('/users/');
    } catch (e) {
      clear(area, message('error', errorText(e)));
      return;
    }
    const status = h('div', { 'aria-live': 'polite' }, notice && message('ok', notice));
    const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
    const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' });
    const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)));
    clear(
      area,
      status,
      table('Users', [
        ['User', (u) => u.username],
        [
          'Role',
          (u) =>
            h(
              'select',
              { 'aria-label': `Role of ${u.username}`, onchange: (e) => attempt(status, () => patch(`/users/${u.id}/`, { role: e.target.value }), `${u.username} is now ${e.target.value}.`) },
              ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)),
            ),
        ],
        ['Active', (u) => (u.active ? 'yes' : 'no')],
        ['Last login', (u) => fmtDate(u.last_login) || 'never'],
        ['', (u) => h('button', { type: 'button', onclick: () => attempt(status, () => patch(`/users/${u.id}/`, { active: !u.active })).then((r) => r && show()) }, u.active ? 'Deactivate' : 'Activate', h('span', { class: 'sr-only' }, ` ${u.username}`))],
      ], users),
      panelForm(
        'New user',
        async () => {
          const created = await attempt(status, () => post('/users/', { username: username.value, password: password.value, role: role.value }));
          if (created) show(`User ${created.username} created.`);
        },
        h('h2', {}, 'New user'),
        h('div', { class: 'grid' }, field('New user name', username), field('New password', password, 'at least 8 characters'), field('Role', role)),
        h('button', { type: 'submit', class: 'primary' }, 'Create user'),
      ),
    );
  }
  await show();
}
