// The gateway's HTTP/JSON API, as the console uses it. The session is the
// HttpOnly cookie (script never sees it); changes carry the CSRF token the
// login (or /api/v1/me) returned.

let csrf = '';
export let me = null;

export function setSession(who) {
  me = who;
  csrf = (who && who.csrf_token) || '';
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'UNKNOWN';
    this.violations = e.violations || [];
  }
}

export async function call(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch('/api/v1' + path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => call('PATCH', path, body);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

// Every page of a listing (for the dashboard and CSV export), up to `max` rows.
export async function listAll(params, max = 2000) {
  const rows = [];
  let token = '';
  do {
    const page = await get('/requests' + query({ ...params, limit: 100, page_token: token }));
    rows.push(...(page.requests || []));
    token = page.next_page_token || '';
  } while (token && rows.length < max);
  return rows;
}

export const recipient = () => (me && me.role === 'operator' ? 'operators' : me && me.role);
