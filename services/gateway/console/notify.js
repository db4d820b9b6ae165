// Live notifications: one EventSource on /api/v1/events for the person's
// recipient (their organisation, or "operators"). The browser resumes after
// the last event id by itself when the stream breaks (Last-Event-ID), and the
// gateway catches up from there, so nothing is missed. Unread = received after
// the recipient's acknowledged seq; "Mark all read" acknowledges.
import { el, when } from './dom.js';
import * as api from './api.js';

let source = null;
let acked = 0;
const seen = new Map(); // seq -> notification, newest kept

function renderCount() {
  const unread = [...seen.keys()].filter((s) => s > acked).length;
  const badge = document.getElementById('unread');
  badge.textContent = String(unread);
  badge.classList.toggle('zero', unread === 0);
  const list = document.getElementById('notification-list');
  if (list) fillList(list);
}

export async function startEvents() {
  stopEvents();
  const recipient = api.recipient();
  try {
    const stats = await api.get(`/notifications/${encodeURIComponent(recipient)}/stats`);
    acked = stats.acked || 0;
  } catch (_) { acked = 0; }
  // Only the last 200 are kept on the page; older ones are a click away.
  const after = Math.max(0, acked - 50);
  source = new EventSource(`/api/v1/events?recipient=${encodeURIComponent(recipient)}&after=${after}`);
  source.addEventListener('notification', (ev) => {
    const n = JSON.parse(ev.data);
    const fresh = !seen.has(n.seq);
    seen.set(n.seq, n);
    // The page on show may be about this notification's subject (a match of
    // the request being read): it redraws itself.
    if (fresh) window.dispatchEvent(new CustomEvent('tb-notification', { detail: n }));
    while (seen.size > 200) seen.delete(Math.min(...seen.keys()));
    renderCount();
  });
  renderCount();
}

export function stopEvents() {
  if (source) source.close();
  source = null;
  seen.clear();
}

function fillList(list) {
  const items = [...seen.values()].sort((a, b) => b.seq - a.seq);
  list.replaceChildren(...items.map((n) => el('li', { class: n.seq > acked ? 'unread' : '', 'data-seq': n.seq },
    el('strong', { text: n.kind }), ' ',
    el('span', { text: n.text || '' }), ' ',
    el('span', { class: 'muted', text: when(n.created_at) }), ' ',
    n.match ? el('a', { href: `#/request/${n.match.need_id}`, text: 'need' }) : null, ' ',
    n.match ? el('a', { href: `#/request/${n.match.offer_id}`, text: 'offer' }) : null,
    n.request ? el('a', { href: `#/request/${n.request.id}`, text: 'request' }) : null)));
  if (!items.length) list.replaceChildren(el('li', { class: 'muted', text: 'No notifications yet.' }));
}

export async function notificationsView() {
  const list = el('ul', { id: 'notification-list', class: 'timeline' });
  fillList(list);
  const markRead = el('button', { type: 'button', id: 'mark-read', text: 'Mark all read', onclick: async () => {
    const upto = Math.max(0, ...seen.keys());
    await api.post(`/notifications/${encodeURIComponent(api.recipient())}/ack`, { upto });
    acked = upto;
    renderCount();
  } });
  return el('section', {}, el('h1', { text: `Notifications for ${api.recipient()}` }),
    el('p', {}, markRead), list);
}
