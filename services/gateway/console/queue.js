// The review queue: submitted requests, oldest first, published or rejected
// with a reason, each with the version the operator saw.
import { el, langAttr, when } from './dom.js';
import * as api from './api.js';
import { banner, route } from './app.js';

export async function queueView() {
  const rows = await api.listAll({ status: 'SUBMITTED' }, 500);
  rows.sort((a, b) => (a.created_at || '').localeCompare(b.created_at || ''));
  const body = el('tbody');
  for (const r of rows) {
    const reason = el('input', { placeholder: 'reason', 'aria-label': 'reason', class: 'reason' });
    const act = async (action) => {
      try {
        await api.post(`/requests/${r.id}/${action}`, { version: r.version, reason: reason.value });
        banner(`${action === 'publish' ? 'Published' : 'Rejected'}: ${r.title}`);
        tr.remove();
      } catch (e) {
        if (e.status === 409) banner('Someone changed this request meanwhile.', 'error', { label: 'Reload', run: () => { banner(''); route(); } });
        else banner(`${e.code}: ${e.message}`, 'error');
      }
    };
    const tr = el('tr', { 'data-id': r.id },
      el('td', {}, el('a', { href: `#/request/${r.id}`, lang: langAttr(r), text: r.title })),
      el('td', { text: r.kind }),
      el('td', { text: `${r.org && r.org.name} (${r.org && r.org.country})` }),
      el('td', { text: r.sector }),
      el('td', { text: when(r.created_at) }),
      el('td', {}, el('div', { class: 'row-actions' }, reason,
        el('button', { class: 'primary', type: 'button', text: 'Publish', onclick: () => act('publish') }),
        el('button', { class: 'danger', type: 'button', text: 'Reject', onclick: () => act('reject') }))));
    body.append(tr);
  }
  return el('section', {},
    el('h1', { text: `Review queue (${rows.length})` }),
    rows.length ? el('table', { id: 'queue' },
      el('thead', {}, el('tr', {}, ['Title', 'Kind', 'Organisation', 'Sector', 'Submitted', ''].map((h) => el('th', { text: h })))),
      body) : el('p', { class: 'muted', text: 'Nothing waits for review.' }));
}
