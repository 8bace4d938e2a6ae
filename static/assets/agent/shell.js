// The frame every agent page shares: sign-in, the signed-in header, status
// toasts and confirmation dialogs. A page module calls start() with a
// function that builds the page for the signed-in agent.

import { APIError, onSignedOut, restore, signIn, signOut } from './api.js';
import { h, replace } from './dom.js';

const $ = (sel) => document.querySelector(sel);

/**
 * start shows the sign-in form or, once someone is signed in, calls
 * mount(appElement, agent). mount may return a function that stops the
 * page's timers; it is called on sign-out.
 */
export async function start(mount) {
  const app = $('[data-app]');
  const signin = $('[data-signin]');
  const form = $('[data-signin-form]');
  const error = $('[data-signin-error]');
  const loading = $('[data-loading]');
  let unmount = null;

  const showSignIn = (message = '') => {
    if (unmount) unmount();
    unmount = null;
    loading.hidden = true;
    app.hidden = true;
    replace(app);
    $('[data-who]').hidden = true;
    signin.hidden = false;
    error.textContent = message;
    document.title = document.title.replace(/^\(\d+\) /, '');
    form.querySelector('input[name=email]').focus();
  };

  const showApp = async (agent) => {
    loading.hidden = true;
    signin.hidden = true;
    $('[data-who-name]').textContent = `${agent.name} · ${agent.role === 'admin' ? 'Admin' : 'Agent'}`;
    $('[data-who]').hidden = false;
    app.hidden = false;
    try {
      unmount = (await mount(app, agent)) || null;
    } catch (err) {
      replace(app, h('p', { class: 'notice notice-error', role: 'alert', text: `This page could not be loaded: ${err.message}` }));
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = form.elements.email.value.trim();
    const password = form.elements.password.value;
    if (!email || !password) {
      error.textContent = 'Enter your email address and password.';
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    error.textContent = '';
    try {
      const agent = await signIn(email, password);
      form.reset();
      await showApp(agent);
      $('#main').focus();
    } catch (err) {
      error.textContent = err instanceof APIError && err.status === 401 ? 'That email and password do not match an active account.' : err.message;
    } finally {
      button.disabled = false;
    }
  });

  $('[data-signout]').addEventListener('click', async () => {
    try {
      await signOut();
    } catch {
      // Signed out locally either way.
    }
    showSignIn();
    toast('You are signed out.');
  });

  onSignedOut(() => showSignIn('Your session ended. Please sign in again.'));

  try {
    const agent = await restore();
    if (agent) await showApp(agent);
    else showSignIn();
  } catch (err) {
    loading.textContent = `The helpdesk cannot be reached: ${err.message}`;
  }
}

/** toast shows a short status message, read out by screen readers. */
export function toast(message, kind = 'info') {
  const box = $('[data-toasts]');
  const t = h('div', { class: `toast toast-${kind}`, text: message });
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** reportError shows an API error as a toast. */
export function reportError(err) {
  toast(err instanceof Error ? err.message : String(err), 'error');
}

/**
 * confirmDialog asks a yes/no question in a modal <dialog> (not
 * window.confirm, which blocks the page and cannot be styled). It resolves
 * to true when the person confirms.
 */
export function confirmDialog(question, { confirmLabel = 'Confirm', danger = false } = {}) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-q' },
      h('form', { method: 'dialog' },
        h('p', { id: 'dlg-q', class: 'dialog-question', text: question }),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn', text: 'Cancel' }),
          h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn-danger' : 'btn btn-primary', text: confirmLabel }))));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('button[value=cancel]').focus();
  });
}

/**
 * promptDialog asks for one value in a modal <dialog>. It resolves to the
 * value, or null when cancelled.
 */
export function promptDialog(question, { label, type = 'text', confirmLabel = 'Save', autocomplete = 'off' } = {}) {
  return new Promise((resolve) => {
    const input = h('input', { id: 'dlg-input', type, autocomplete, required: true });
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-q' },
      h('form', { method: 'dialog' },
        h('p', { id: 'dlg-q', class: 'dialog-question', text: question }),
        h('div', { class: 'field' }, h('label', { for: 'dlg-input', text: label || question }), input),
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn', formnovalidate: true, text: 'Cancel' }),
          h('button', { type: 'submit', value: 'ok', class: 'btn btn-primary', text: confirmLabel }))));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok' ? input.value : null);
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}
