import { login, currentSession } from '../api.js';
import { h, field, message, errorText, pageHeading } from '../ui.js';

const REASONS = {
  expired: 'Your session has ended (the token expired or was revoked). Log in again.',
  'logged-out': 'You have logged out.',
};

export function render(main, { query, reason, navigate }) {
  // Already logged in in this tab (a bookmark of the login page): straight on.
  if (currentSession()) {
    navigate('live', true);
    return;
  }
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { class: 'status', 'aria-live': 'polite' }, reason && REASONS[reason] ? message('info', REASONS[reason]) : null);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        try {
          await login(user.value, password.value);
          const next = query.get('next');
          navigate(next && next.startsWith('/console/') && !next.startsWith('/console/login') ? next : 'live', true);
        } catch (err) {
          status.replaceChildren(message('error', err.status === 401 ? 'Wrong user name or password.' : errorText(err)));
          password.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    pageHeading('Log in to ffsec'),
    field('User name', user),
    field('Password', password),
    status,
    submit,
  );
  main.append(h('div', { class: 'login-wrap' }, form));
  queueMicrotask(() => user.focus());
}
