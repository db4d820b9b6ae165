// Search and filters (kind, sector, status, organisation, text) with pages,
// and CSV export of everything the filter finds.
import { el, langAttr, when, SECTORS, STATUSES } from './dom.js';
import * as api from './api.js';
import { banner } from './app.js';

function select(name, values, label) {
  return el('select', { name, 'aria-label': label },
    el('option', { value: '', text: `${label}: any` }),
    values.map((v) => el('option', { value: v, text: v })));
}

function csvCell(value) {
  const s = value === undefined || value === null ? '' : String(value);
  // A leading = + - @ would be a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@]/.test(s) ? "'" + s : s;
  return /[",\n\r]/.test(safe) || safe !== s ? '"' + safe.replace(/"/g, '""') + '"' : safe;
}

export function toCsv(rows) {
  const cols = ['id', 'kind', 'status', 'title', 'org_id', 'org_name', 'country', 'region',
    'sector', 'trl', 'language', 'keywords', 'created_at', 'expires_at'];
  const lines = [cols.join(',')];
  for (const r of rows) {
    const o = r.org || {};
    lines.push([r.id, r.kind, r.status, r.title, o.id, o.name, o.country, o.region, r.sector,
      r.trl, r.language, (r.keywords || []).join('; '), r.created_at, r.expires_at].map(csvCell).join(','));
  }
  // A byte order mark: spreadsheet programs then read the UTF-8 (Chinese, Russian) right.
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

export async function searchView() {
  const kind = select('kind', ['OFFER', 'NEED'], 'Kind');
  const status = select('status', STATUSES, 'Status');
  const sector = select('sector', SECTORS, 'Sector');
  const org = el('input', { name: 'org_id', placeholder: 'organisation id' });
  const text = el('input', { name: 'text', placeholder: 'words, any language', size: 28 });
  const results = el('div', { id: 'results' });
  const tokens = [''];
  let page = 0;
  const filters = () => ({ kind: kind.value, status: status.value, sector: sector.value,
    org_id: org.value.trim(), text: text.value.trim() });

  async function load() {
    const data = await api.get('/requests' + api.query({ ...filters(), limit: 20, page_token: tokens[page] }));
    const rows = data.requests || [];
    tokens[page + 1] = data.next_page_token || '';
    results.replaceChildren(
      el('table', {},
        el('thead', {}, el('tr', {}, ['Title', 'Kind', 'Status', 'Organisation', 'Sector', 'Updated'].map((h) => el('th', { text: h })))),
        el('tbody', {}, rows.map((r) => el('tr', {},
          el('td', {}, el('a', { href: `#/request/${r.id}`, lang: langAttr(r), text: r.title })),
          el('td', { text: r.kind }), el('td', { text: r.status }),
          el('td', { text: (r.org && r.org.name) || '' }), el('td', { text: r.sector }),
          el('td', { text: when(r.updated_at) }))))),
      el('div', { class: 'pager' },
        el('button', { type: 'button', text: '← Previous', disabled: page === 0, onclick: () => { page--; load(); } }),
        el('span', { class: 'muted', text: `page ${page + 1}, ${rows.length} shown` }),
        el('button', { type: 'button', text: 'Next →', disabled: !tokens[page + 1], onclick: () => { page++; load(); } })));
  }

  async function exportCsv() {
    try {
      const rows = await api.listAll(filters());
      const url = URL.createObjectURL(new Blob([toCsv(rows)], { type: 'text/csv;charset=utf-8' }));
      const a = el('a', { href: url, download: 'techbridge-requests.csv' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { banner(`${e.code}: ${e.message}`, 'error'); }
  }

  const form = el('form', { class: 'filters', id: 'filters' }, kind, status, sector, org, text,
    el('button', { class: 'primary', type: 'submit', text: 'Search' }),
    el('button', { type: 'button', id: 'export', text: 'Export CSV', onclick: exportCsv }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); page = 0; tokens.length = 1; load().catch((e) => banner(`${e.code}: ${e.message}`, 'error')); });
  await load();
  return el('section', {}, el('h1', { text: 'Requests' }), form, results);
}
