// The dashboard, drawn as SVG from the API: requests by sector and status
// (stacked bars), matches proposed / accepted / agreed by day, and accepted
// matches and agreements by region pair (a Belarusian region ↔ a Chinese
// province: the twinned-region view). Operators only (it reads every request).
import { el, svg, STATUSES } from './dom.js';
import * as api from './api.js';

const COLOURS = { SUBMITTED: '#9aa5b1', PUBLISHED: '#1f6feb', IN_NEGOTIATION: '#8250df',
  AGREED: '#1a7f37', REJECTED: '#c62828', WITHDRAWN: '#d4a72c', EXPIRED: '#57606a',
  PROPOSED: '#9aa5b1', ACCEPTED: '#1f6feb' };

function legend(keys, y) {
  return keys.map((k, i) => svg('g', {}, svg('rect', { x: 10 + i * 150, y, width: 10, height: 10, fill: COLOURS[k] }),
    svg('text', { x: 24 + i * 150, y: y + 9, text: k })));
}

// rows: [{label, parts: {key: n}}]; horizontal stacked bars.
function stackedBars(title, rows, keys) {
  const max = Math.max(1, ...rows.map((r) => keys.reduce((s, k) => s + (r.parts[k] || 0), 0)));
  const width = 760, left = 190, bar = 16, gap = 6;
  const height = 40 + rows.length * (bar + gap) + 20;
  const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title },
    legend(keys.filter((k) => rows.some((r) => r.parts[k])), 8));
  rows.forEach((r, i) => {
    const y = 34 + i * (bar + gap);
    chart.append(svg('text', { x: left - 6, y: y + 12, 'text-anchor': 'end', text: r.label }));
    let x = left;
    let total = 0;
    for (const k of keys) {
      const n = r.parts[k] || 0;
      if (!n) continue;
      const w = (n / max) * (width - left - 50);
      chart.append(svg('rect', { x, y, width: Math.max(w, 1), height: bar, fill: COLOURS[k] || '#1f6feb' },
        svg('title', { text: `${r.label}: ${k} ${n}` })));
      x += w;
      total += n;
    }
    chart.append(svg('text', { x: x + 4, y: y + 12, text: total }));
  });
  return el('div', { class: 'chart' }, el('h2', { text: title }), rows.length ? chart : el('p', { class: 'muted', text: 'No data yet.' }));
}

export async function dashboardView() {
  const requests = await api.listAll({});
  const bySector = new Map();
  for (const r of requests) {
    const row = bySector.get(r.sector) || { label: r.sector, parts: {} };
    row.parts[r.status] = (row.parts[r.status] || 0) + 1;
    bySector.set(r.sector, row);
  }
  // Matches are read per need (each match has one need): the needs that can
  // have matches, a few calls at a time.
  const needs = requests.filter((r) => r.kind === 'NEED' && ['PUBLISHED', 'IN_NEGOTIATION', 'AGREED'].includes(r.status));
  const statusOf = new Map(requests.map((r) => [r.id, r.status]));
  const matches = [];
  for (let i = 0; i < needs.length; i += 8) {
    const pages = await Promise.all(needs.slice(i, i + 8).map((n) =>
      api.get(`/requests/${n.id}/matches?limit=100`).catch(() => ({ matches: [] }))));
    for (const p of pages) matches.push(...(p.matches || []));
  }
  const byDay = new Map(), byPair = new Map();
  const count = (map, label, key) => {
    const row = map.get(label) || { label, parts: {} };
    row.parts[key] = (row.parts[key] || 0) + 1;
    map.set(label, row);
  };
  for (const m of matches) {
    count(byDay, (m.created_at || '').slice(0, 10), 'PROPOSED');
    if (!['ACCEPTED', 'CLOSED'].includes(m.status)) continue;
    const agreed = statusOf.get(m.need_id) === 'AGREED' || statusOf.get(m.offer_id) === 'AGREED';
    count(byDay, (m.updated_at || '').slice(0, 10), agreed ? 'AGREED' : 'ACCEPTED');
    const a = (m.need && m.need.org) || {}, b = (m.offer && m.offer.org) || {};
    count(byPair, `${a.region || '?'} (${a.country || '?'}) ↔ ${b.region || '?'} (${b.country || '?'})`, agreed ? 'AGREED' : 'ACCEPTED');
  }
  return el('section', { id: 'dashboard' }, el('h1', { text: 'Dashboard' }),
    stackedBars(`Requests by sector and status (${requests.length})`, [...bySector.values()].sort((a, b) => a.label.localeCompare(b.label)), STATUSES),
    stackedBars(`Matches by day: proposed, accepted, agreed (${matches.length})`, [...byDay.values()].sort((a, b) => a.label.localeCompare(b.label)), ['PROPOSED', 'ACCEPTED', 'AGREED']),
    stackedBars('Accepted matches and agreements by region pair', [...byPair.values()].sort((a, b) => a.label.localeCompare(b.label)), ['ACCEPTED', 'AGREED']));
}
