// The JSON API client of the agent pages, and the session.
//
// The session cookie is HttpOnly; this module never sees it. The CSRF token
// that cookie-authenticated writes must carry is kept in this module's
// memory only (never in storage), from the sign-in answer or, after a
// reload, from GET /api/auth/me.

let csrf = '';
let agent = null;
const signedOutListeners = new Set();

/** APIError is a failed API call: status and the server's public message. */
export class APIError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.body = body;
  }
}

/** currentAgent is the signed-in agent, or null. */
export function currentAgent() {
  return agent;
}

/** onSignedOut registers fn to run when the API says the session is gone. */
export function onSignedOut(fn) {
  signedOutListeners.add(fn);
}

const SAFE = new Set(['GET', 'HEAD']);

/**
 * api calls the JSON API and returns the decoded answer (null for 204).
 * A non-2xx answer throws APIError with the server's message. A 401 on
 * any call but sign-in means the session ended: listeners are told.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE.has(method) && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new APIError(0, 'The helpdesk cannot be reached. Check your connection; changes were not saved.');
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const msg = (data && data.error) || `Request failed (${res.status})`;
    if (res.status === 401 && path !== '/api/auth/login' && agent) {
      agent = null;
      csrf = '';
      for (const fn of signedOutListeners) fn();
    }
    throw new APIError(res.status, msg, data);
  }
  return data;
}

/**
 * restore asks who is signed in (GET /api/auth/me). It resolves to the
 * agent, or null when nobody is.
 */
export async function restore() {
  try {
    const me = await api('GET', '/api/auth/me');
    agent = me.agent;
    csrf = me.csrf_token || '';
    return agent;
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

/** signIn posts the credentials; it resolves to the agent or throws APIError. */
export async function signIn(email, password) {
  const me = await api('POST', '/api/auth/login', { email, password });
  agent = me.agent;
  csrf = me.csrf_token || '';
  return agent;
}

/** signOut ends the session. */
export async function signOut() {
  try {
    await api('POST', '/api/auth/logout');
  } finally {
    agent = null;
    csrf = '';
  }
}

/** qs builds a query string from an object, leaving out empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    u.set(k, v === true ? '1' : String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}
