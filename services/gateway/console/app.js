// The console's shell: login, navigation, the live notification counter, and a
// router over location.hash that hands #/view/arg to a view module.
import { el, clear } from './dom.js';
import * as api from './api.js';
import { queueView } from './queue.js';
import { searchView } from './search.js';
import { formView } from './form.js';
import { requestView } from './request.js';
import { dashboardView } from './dashboard.js';
import { notificationsView, startEvents, stopEvents } from './notify.js';

const main = document.getElementById('main');

export function banner(text, kind, action) {
  const b = document.getElementById('banner');
  clear(b);
  if (!text) { b.hidden = true; return; }
  b.className = kind === 'error' ? 'error' : '';
  b.append(el('span', { text }));
  if (action) b.append(' ', el('button', { type: 'button', text: action.label, onclick: action.run }));
  b.hidden = false;
}

function loginView() {
  const user = el('input', { name: 'user', autocomplete: 'username', placeholder: 'user name', required: true });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', placeholder: 'password', required: true });
  const error = el('p', { class: 'field-error', id: 'login-error' });
  const form = el('form', { class: 'card login', id: 'login' },
    el('h2', { text: 'Log in' }), user, password, error,
    el('button', { class: 'primary', type: 'submit', text: 'Log in' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const who = await api.post('/login', { user: user.value, password: password.value });
      signedIn(who);
      location.hash = who.role === 'operator' ? '#/queue' : '#/search';
      route();
    } catch (e) {
      error.textContent = e.status === 429 ? 'Too many failed logins: wait and try again.' : e.message;
    }
  });
  return form;
}

function signedIn(who) {
  api.setSession(who);
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = `${who.user} (${who.role})`;
  for (const a of document.querySelectorAll('nav a[data-role]'))
    a.hidden = who.role !== a.dataset.role;
  startEvents();
}

function signedOut() {
  api.setSession(null);
  stopEvents();
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
}

const views = {
  queue: queueView, search: searchView, new: formView, request: requestView,
  dashboard: dashboardView, notifications: notificationsView,
};

// Each drawing has a number: one that finishes after a later one started
// (a redraw on a notification while the page was still loading) is dropped.
let drawing = 0;
let drawnHash = null;

export async function route() {
  const mine = ++drawing;
  // A message stays over a redraw of the same page ("Published"), not a move.
  if (location.hash !== drawnHash) banner('');
  drawnHash = location.hash;
  const [, name, arg] = (location.hash || '#/').split('/');
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  if (!api.me) { clear(main).append(loginView()); return; }
  const view = views[name] || (api.me.role === 'operator' ? queueView : searchView);
  clear(main).append(el('p', { class: 'muted', text: 'Loading…' }));
  try {
    const node = await view(arg ? decodeURIComponent(arg) : undefined);
    if (mine === drawing) clear(main).append(node);
  } catch (e) {
    if (mine !== drawing) return;
    if (e.status === 401) { signedOut(); clear(main).append(loginView()); return; }
    clear(main).append(el('div', { class: 'card' },
      el('h2', { text: e.status === 403 ? 'Not allowed' : e.status === 404 ? 'Not found' : 'Something went wrong' }),
      el('p', { id: 'page-error', text: `${e.code}: ${e.message}` })));
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api.post('/logout'); } catch (_) { /* the session may be gone already */ }
  signedOut();
  location.hash = '#/';
  route();
});
window.addEventListener('hashchange', route);

(async () => {
  try { signedIn(await api.get('/me')); } catch (_) { signedOut(); }
  route();
})();
