// A new request: the service's own field errors (INVALID_ARGUMENT violations)
// are shown beside each field, named by their path ("org.country",
// "keywords[2]" goes beside keywords).
import { el, SECTORS, COOPERATION, IPR } from './dom.js';
import * as api from './api.js';

function row(label, field, input) {
  input.dataset.field = field;
  return [el('label', { text: label, for: `f-${field}` }),
    el('div', {}, input, el('div', { class: 'field-error', 'data-error-for': field }))];
}

export async function formView() {
  const isOrg = api.me.role !== 'operator';
  const f = {};
  const input = (name, attrs) => (f[name] = el('input', { id: `f-${name}`, name, ...attrs }));
  const kind = f.kind = el('select', { id: 'f-kind', name: 'kind' }, ['NEED', 'OFFER'].map((k) => el('option', { value: k, text: k })));
  const sector = f.sector = el('select', { id: 'f-sector', name: 'sector' }, el('option', { value: '', text: '(choose)' }), SECTORS.map((s) => el('option', { value: s, text: s })));
  const ipr = f.ipr = el('select', { id: 'f-ipr', name: 'ipr' }, el('option', { value: '', text: '(offers only)' }), IPR.map((s) => el('option', { value: s, text: s })));
  const language = f.language = el('select', { id: 'f-language', name: 'language' }, el('option', { value: '', text: '(detect)' }), ['en', 'ru', 'be', 'zh'].map((s) => el('option', { value: s, text: s })));
  const coop = el('div', { id: 'f-cooperation' }, COOPERATION.map((c) =>
    el('label', {}, el('input', { type: 'checkbox', value: c }), ' ', c.toLowerCase().replace(/_/g, ' '), ' ')));
  const summary = f.summary = el('textarea', { id: 'f-summary', name: 'summary' });
  const grid = el('div', { class: 'form-grid' },
    row('Kind', 'kind', kind),
    row('Your reference', 'external_ref', input('external_ref', { required: true })),
    row('Organisation id', 'org.id', input('org.id', isOrg ? { value: api.me.role, readonly: true } : {})),
    row('Organisation name', 'org.name', input('org.name')),
    row('Country (ISO)', 'org.country', input('org.country', { size: 3 })),
    row('Region', 'org.region', input('org.region')),
    row('Contact name', 'contact.name', input('contact.name')),
    row('Contact e-mail', 'contact.email', input('contact.email', { type: 'text' })),
    row('Contact phone', 'contact.phone', input('contact.phone')),
    row('Title', 'title', input('title', { size: 60 })),
    row('Summary', 'summary', summary),
    row('Sector', 'sector', sector),
    row('Keywords (comma separated)', 'keywords', input('keywords', { size: 60 })),
    row('TRL (1-9)', 'trl', input('trl', { type: 'number', min: 1, max: 9 })),
    row('Cooperation', 'cooperation', coop),
    row('IPR', 'ipr', ipr),
    row('Language', 'language', language));
  const general = el('div', { class: 'field-error', id: 'form-errors' });
  const form = el('form', { class: 'card', id: 'request-form', novalidate: true }, grid, general,
    el('button', { class: 'primary', type: 'submit', text: 'Submit' }));

  const value = (name) => f[name].value.trim();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const e of form.querySelectorAll('[data-error-for]')) e.textContent = '';
    for (const e of form.querySelectorAll('.invalid')) e.classList.remove('invalid');
    general.textContent = '';
    const request = {
      kind: kind.value, external_ref: value('external_ref'),
      org: { id: value('org.id'), name: value('org.name'), country: value('org.country'), region: value('org.region') },
      contact: { name: value('contact.name'), email: value('contact.email') },
      title: value('title'), summary: summary.value, sector: sector.value,
      keywords: value('keywords').split(',').map((k) => k.trim()).filter(Boolean),
      cooperation: [...coop.querySelectorAll('input:checked')].map((c) => c.value),
    };
    if (value('contact.phone')) request.contact.phone = value('contact.phone');
    if (value('trl')) request.trl = Number(value('trl'));
    if (ipr.value) request.ipr = ipr.value;
    if (language.value) request.language = language.value;
    try {
      const res = await api.post('/requests', request);
      location.hash = `#/request/${res.request.id}`;
    } catch (e) {
      if (e.code !== 'INVALID_ARGUMENT' || !e.violations.length) { general.textContent = `${e.code}: ${e.message}`; return; }
      for (const v of e.violations) {
        const field = v.field.replace(/\[\d+\]$/, '');
        const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
        if (slot) {
          slot.append(el('div', { text: v.field === field ? v.reason : `${v.field}: ${v.reason}` }));
          const inp = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
          if (inp) inp.classList.add('invalid');
        } else {
          general.append(el('div', { text: `${v.field}: ${v.reason}` }));
        }
      }
    }
  });
  return el('section', {}, el('h1', { text: 'New request' }), form);
}
