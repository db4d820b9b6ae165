// A request's page: its fields, its history as a timeline, its matches best
// first with a bar per score component and the reasons, and the decisions an
// operator takes, each with the version the page was drawn from: when someone
// else changed it meanwhile the service answers ABORTED (409) and the page
// offers a reload instead of overwriting.
import { el, langAttr, when } from './dom.js';
import * as api from './api.js';
import { banner, route } from './app.js';

const ACTIONS = {
  SUBMITTED: ['publish', 'reject', 'withdraw'],
  PUBLISHED: ['negotiate', 'withdraw', 'renew'],
  IN_NEGOTIATION: ['agree', 'reopen', 'withdraw'],
};
const OWNER_ACTIONS = ['withdraw', 'renew'];

function stale(e) {
  if (e.status === 409 && e.code === 'ABORTED')
    banner('This was changed by someone else since the page was drawn.', 'error', { label: 'Reload', run: () => { banner(''); route(); } });
  else banner(`${e.code}: ${e.message}`, 'error');
}

function bar(fraction, label) {
  const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
  const fill = el('span');
  // CSSOM, not a style attribute: the page's CSP allows no inline style.
  fill.style.width = `${pct.toFixed(1)}%`;
  return el('div', { class: 'bar', role: 'img', 'aria-label': label }, fill);
}

function fieldsCard(r) {
  const o = r.org || {}, c = r.contact || {};
  const rows = [
    ['Kind', r.kind], ['Status', `${r.status} (version ${r.version})`],
    ['Organisation', `${o.name || ''} — ${o.id || ''}, ${o.region || ''} ${o.country || ''}`],
    ['Contact', [c.name, c.email, c.phone].filter(Boolean).join(', ')],
    ['Sector', r.sector], ['Keywords', (r.keywords || []).join(', ')], ['TRL', r.trl],
    ['Cooperation', (r.cooperation || []).join(', ')], ['IPR', r.ipr],
    ['Language', r.language], ['Expires', when(r.expires_at)], ['Reference', r.external_ref],
  ];
  return el('div', { class: 'card' },
    el('h1', { id: 'request-title', lang: langAttr(r), text: r.title }),
    el('p', { lang: langAttr(r), text: r.summary || '' }),
    el('table', {}, el('tbody', {}, rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) =>
      el('tr', {}, el('th', { text: k }), el('td', { text: v }))))));
}

function actionsCard(r) {
  const isOperator = api.me.role === 'operator';
  const owner = r.org && r.org.id === api.me.role;
  const names = (ACTIONS[r.status] || []).filter((a) => isOperator || (owner && OWNER_ACTIONS.includes(a)));
  if (!names.length) return null;
  const reason = el('input', { placeholder: 'reason', 'aria-label': 'reason', size: 40 });
  return el('div', { class: 'card row-actions', id: 'request-actions' }, reason,
    names.map((a) => el('button', { type: 'button', 'data-action': a, class: a === 'publish' || a === 'agree' ? 'primary' : '', text: a,
      onclick: async () => {
        try {
          await api.post(`/requests/${r.id}/${a}`, { version: r.version, reason: reason.value });
          banner(`Done: ${a}`);
          route();
        } catch (e) { stale(e); }
      } })));
}

function historyCard(h) {
  return el('div', { class: 'card' }, el('h2', { text: 'History' }),
    el('ol', { class: 'timeline', id: 'history' }, (h.entries || []).map((e) => el('li', {},
      el('strong', { text: e.action }), ' ',
      el('span', { text: e.from_status ? `${e.from_status} → ${e.to_status}` : e.to_status }), ' ',
      el('span', { class: 'muted', text: `by ${e.actor}, ${when(e.at)}` }),
      e.reason ? el('div', { text: `“${e.reason}”` }) : null))));
}

function matchCard(m, r) {
  const other = r.kind === 'NEED' ? m.offer : m.need;
  const reasons = el('table', { class: 'reasons' }, el('tbody', {}, (m.reasons || []).map((x) => el('tr', {},
    el('td', { text: x.component }),
    el('td', { class: 'reason-bar' }, bar(x.value, `${x.component} ${x.value}`)),
    el('td', { text: `${(x.contribution || 0).toFixed(3)} of ${(x.weight || 0).toFixed(2)}` }),
    el('td', {}, x.detail || '',
      (x.shared_concepts || []).length ? el('div', { class: 'muted' }, 'concepts: ',
        x.shared_concepts.map((c) => `${c.label} (${c.need_text} ↔ ${c.offer_text})`).join('; ')) : null,
      (x.shared_terms || []).length ? el('div', { class: 'muted', text: `terms: ${x.shared_terms.join(', ')}` }) : null)))));
  const reason = el('input', { placeholder: 'reason', 'aria-label': 'decision reason', size: 30 });
  const decide = (action) => async () => {
    try {
      await api.post(`/matches/${m.id}/${action}`, { version: m.version, reason: reason.value });
      banner(`Match ${action}ed`);
      route();
    } catch (e) { stale(e); }
  };
  const decisions = api.me.role !== 'operator' ? [] :
    m.status === 'PROPOSED' ? ['accept', 'decline'] : m.status === 'ACCEPTED' ? ['close'] : [];
  return el('div', { class: 'card match', 'data-match': m.id },
    el('div', { class: 'score' }, el('strong', { text: (m.score || 0).toFixed(3) }), bar(m.score, `score ${m.score}`),
      el('span', { class: 'muted', text: `${m.status}, version ${m.version}` })),
    other ? el('p', {}, el('a', { href: `#/request/${other.request_id}`, text: other.title }),
      el('span', { class: 'muted', text: ` — ${(other.org && other.org.name) || ''} (${(other.org && other.org.region) || ''} ${(other.org && other.org.country) || ''})` })) : null,
    reasons,
    m.reason ? el('p', { class: 'muted', text: `Decision: “${m.reason}”` }) : null,
    decisions.length ? el('div', { class: 'row-actions' }, reason, decisions.map((d) =>
      el('button', { type: 'button', 'data-decide': d, class: d === 'accept' ? 'primary' : '', text: d, onclick: decide(d) }))) : null);
}

// A request's page redraws when a notification concerns it (a match proposed,
// accepted or declined, its status changed), so the operator sees it live.
let shown = null;
window.addEventListener('tb-notification', (ev) => {
  const n = ev.detail;
  const about = [n.subject_id, n.request && n.request.id, n.match && n.match.need_id,
    n.match && n.match.offer_id];
  const [, view, arg] = (location.hash || '').split('/');
  if (shown && view === 'request' && decodeURIComponent(arg || '') === shown && about.includes(shown))
    route();
});

export async function requestView(id) {
  shown = id;
  const lang = sessionStorage.getItem('tb.lang') || 'en';
  const [res, hist] = await Promise.all([api.get(`/requests/${encodeURIComponent(id)}`),
    api.get(`/requests/${encodeURIComponent(id)}/history`)]);
  const r = res.request;
  let matches = [];
  let matchNote = '';
  try {
    matches = (await api.get(`/requests/${encodeURIComponent(id)}/matches?lang=${lang}`)).matches || [];
  } catch (e) {
    // Matching knows only published requests: anything else has no matches yet.
    if (e.status !== 404) throw e;
    matchNote = 'No matches: only published requests are matched.';
  }
  const langSel = el('select', { 'aria-label': 'language of concept names', id: 'match-lang',
    onchange: (ev) => { sessionStorage.setItem('tb.lang', ev.target.value); route(); } },
  ['en', 'ru', 'be', 'zh'].map((l) => el('option', { value: l, text: l, selected: l === lang })));
  return el('section', {}, fieldsCard(r), actionsCard(r),
    el('div', {}, el('h2', { text: `Matches (${matches.length}) ` }), el('label', {}, 'concepts in ', langSel)),
    el('div', { id: 'matches' }, matches.length ? matches.map((m) => matchCard(m, r)) :
      el('p', { class: 'muted', text: matchNote || 'No matches yet.' })),
    historyCard(hist));
}
