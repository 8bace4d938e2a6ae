// The admin pages at /agent/admin: agents, API tokens, support hours and
// holidays, inboxes and their acknowledgements, canned responses, the
// knowledge base editor with live preview, and the audit log.
//
// The page is served to anyone; the APIs behind it are for admins only.
// A signed-in agent who is not an admin sees an "admins only" notice
// instead of the tabs.

import { api, qs } from './api.js';
import { h, replace, field, select, uid, fmtDateTime, timeEl, debounce, plural } from './dom.js';
import { sandboxedFrame, setFrameHTML } from './frame.js';
import { start, toast, reportError, confirmDialog, promptDialog } from './shell.js';

const HELP_CSS = '/static/helpcenter/helpcenter.css';

const TABS = [
  { id: 'agents', label: 'Agents', render: agentsPanel },
  { id: 'tokens', label: 'API tokens', render: tokensPanel },
  { id: 'hours', label: 'Support hours', render: hoursPanel },
  { id: 'inboxes', label: 'Inboxes', render: inboxesPanel },
  { id: 'canned', label: 'Canned responses', render: cannedPanel },
  { id: 'kb', label: 'Knowledge base', render: kbPanel },
  { id: 'audit', label: 'Audit log', render: auditPanel },
];

start(async (app, me) => {
  if (me.role !== 'admin') {
    replace(app, adminsOnly());
    return null;
  }
  // The role can change while the page is open; the API has the last word.
  try {
    await api('GET', '/api/admin/agents');
  } catch (err) {
    if (err.status === 403) {
      replace(app, adminsOnly());
      return null;
    }
    throw err;
  }
  const panel = h('div', { class: 'panel', role: 'tabpanel', tabindex: '0' });
  const tabs = TABS.map((t) => h('button', {
    type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': 'admin-panel', text: t.label, dataset: { tab: t.id },
  }));
  panel.id = 'admin-panel';
  const list = h('div', { class: 'tabs-v', role: 'tablist', 'aria-label': 'Admin sections', 'aria-orientation': 'vertical' }, tabs);
  const show = async (id, focus = false) => {
    const t = TABS.find((x) => x.id === id) || TABS[0];
    for (const b of tabs) {
      const on = b.dataset.tab === t.id;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    panel.setAttribute('aria-labelledby', `tab-${t.id}`);
    if (location.hash !== `#${t.id}`) history.replaceState(null, '', `#${t.id}`);
    replace(panel, h('p', { class: 'loading', text: 'Loading…' }));
    try {
      await t.render(panel, me);
    } catch (err) {
      replace(panel, h('p', { class: 'notice notice-error', role: 'alert', text: err.status === 403 ? 'Admins only.' : `Could not load: ${err.message}` }));
    }
  };
  list.addEventListener('click', (ev) => {
    const b = ev.target.closest('[role=tab]');
    if (b) show(b.dataset.tab);
  });
  list.addEventListener('keydown', (ev) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
    if (ev.key in moves) {
      ev.preventDefault();
      show(tabs[(i + moves[ev.key] + tabs.length) % tabs.length].dataset.tab, true);
    } else if (ev.key === 'Home' || ev.key === 'End') {
      ev.preventDefault();
      show(tabs[ev.key === 'Home' ? 0 : tabs.length - 1].dataset.tab, true);
    }
  });
  replace(app, h('h1', { class: 'visually-hidden', text: 'Admin' }), h('div', { class: 'admin' }, list, panel));
  const onHash = () => {
    const id = location.hash.slice(1);
    const current = tabs.find((b) => b.getAttribute('aria-selected') === 'true');
    if (TABS.some((t) => t.id === id) && (!current || current.dataset.tab !== id)) show(id);
  };
  window.addEventListener('hashchange', onHash);
  await show(location.hash.slice(1));
  return () => window.removeEventListener('hashchange', onHash);
});

function adminsOnly() {
  return h('div', { class: 'card', role: 'alert' },
    h('h1', { text: 'Admins only' }),
    h('p', { text: 'These pages manage agents, tokens, support hours, inboxes and the knowledge base. Your account is an agent account; ask an admin if you need a change.' }),
    h('p', {}, h('a', { href: '/agent', text: 'Back to the tickets' })));
}

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { text: title }), ...children);
}

/** submitting disables a form's buttons while fn runs and reports errors in errEl. */
async function submitting(form, errEl, fn) {
  const buttons = form.querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  if (errEl) errEl.textContent = '';
  try {
    return await fn();
  } catch (err) {
    if (errEl) errEl.textContent = err.message;
    else reportError(err);
    return undefined;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// --- agents ---

async function agentsPanel(panel, me) {
  const { agents } = await api('GET', '/api/admin/agents');
  const body = h('tbody');
  const redraw = async () => {
    const r = await api('GET', '/api/admin/agents');
    replace(body, r.agents.map(row));
  };
  const patch = async (a, change, done) => {
    try {
      await api('PATCH', `/api/admin/agents/${a.id}`, change);
      toast(done, 'ok');
    } catch (err) {
      reportError(err);
    }
    await redraw();
  };
  const row = (a) => {
    const role = select([['agent', 'Agent'], ['admin', 'Admin']], { 'aria-label': `Role of ${a.name}` }, a.role);
    role.addEventListener('change', () => patch(a, { role: role.value }, `${a.name} is now ${role.value === 'admin' ? 'an admin' : 'an agent'}`));
    const active = h('button', {
      type: 'button', class: a.active ? 'btn btn-small' : 'btn btn-small btn-primary',
      text: a.active ? 'Deactivate' : 'Reactivate', 'aria-label': `${a.active ? 'Deactivate' : 'Reactivate'} ${a.name}`,
      onclick: async () => {
        if (a.active && !(await confirmDialog(`Deactivate ${a.name}? They are signed out and cannot sign in until reactivated.`, { confirmLabel: 'Deactivate', danger: true }))) return;
        patch(a, { active: !a.active }, `${a.name} ${a.active ? 'deactivated' : 'reactivated'}`);
      },
    });
    const reset = h('button', {
      type: 'button', class: 'btn btn-small', text: 'Reset password', 'aria-label': `Reset the password of ${a.name}`,
      onclick: async () => {
        const pw = await promptDialog(`New password for ${a.name}`, { label: 'New password (at least 12 characters)', type: 'password', autocomplete: 'new-password', confirmLabel: 'Set password' });
        if (pw === null) return;
        try {
          await api('POST', `/api/admin/agents/${a.id}/password`, { password: pw });
          toast(`Password of ${a.name} reset; their sessions were ended.`, 'ok');
        } catch (err) {
          reportError(err);
        }
      },
    });
    return h('tr', { class: a.active ? '' : 'inactive', dataset: { email: a.email } },
      h('td', {}, h('strong', { text: a.name }), a.id === me.id ? h('span', { class: 'muted', text: ' (you)' }) : null),
      h('td', { text: a.email }),
      h('td', {}, role),
      h('td', {}, a.active ? h('span', { class: 'badge badge-solved', text: 'Active' }) : h('span', { class: 'badge', text: 'Deactivated' })),
      h('td', {}, h('div', { class: 'actions' }, active, reset)));
  };
  replace(body, agents.map(row));

  const err = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { 'aria-labelledby': 'add-agent-title', novalidate: true },
    h('h3', { id: 'add-agent-title', text: 'Add an agent' }),
    h('div', { class: 'row' },
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
      field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' })),
      field('Role', select([['agent', 'Agent'], ['admin', 'Admin']], { name: 'role' })),
      field('Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', 'aria-describedby': 'pw-hint' })),
      h('button', { type: 'submit', class: 'btn btn-primary', text: 'Add agent' })),
    h('p', { class: 'hint', id: 'pw-hint', text: 'The password needs at least 12 characters; they can change it after signing in.' }),
    err);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    submitting(form, err, async () => {
      const a = await api('POST', '/api/admin/agents', { name: f.name.value, email: f.email.value, role: f.role.value, password: f.password.value });
      form.reset();
      toast(`${a.name} can now sign in.`, 'ok');
      await redraw();
    });
  });
  replace(panel,
    card('Agents',
      h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Status', ''].map((t) => h('th', { scope: 'col', text: t })))),
        body)),
    h('section', { class: 'card' }, form));
}

// --- API tokens ---

async function tokensPanel(panel) {
  const [{ tokens }, { agents }] = await Promise.all([api('GET', '/api/admin/tokens'), api('GET', '/api/admin/agents')]);
  const body = h('tbody');
  const once = h('div', { 'aria-live': 'polite' });
  const draw = (list) => replace(body, list.length ? list.map((t) => h('tr', { class: t.revoked_at ? 'inactive' : '' },
    h('td', {}, h('strong', { text: t.name }), ' ', h('code', { class: 'muted', text: `${t.prefix}…` })),
    h('td', { text: t.agent_email }),
    h('td', {}, timeEl(t.created_at)),
    h('td', {}, t.last_used_at ? timeEl(t.last_used_at) : h('span', { class: 'muted', text: 'never' })),
    h('td', {}, t.revoked_at ? h('span', { class: 'badge badge-revoked', text: 'Revoked' }) : h('button', {
      type: 'button', class: 'btn btn-small', text: 'Revoke', 'aria-label': `Revoke token ${t.name} of ${t.agent_email}`,
      onclick: async () => {
        if (!(await confirmDialog(`Revoke the token "${t.name}" of ${t.agent_email}? Programs using it stop working at once.`, { confirmLabel: 'Revoke', danger: true }))) return;
        try {
          await api('DELETE', `/api/admin/tokens/${t.id}`);
          toast('Token revoked', 'ok');
          draw((await api('GET', '/api/admin/tokens')).tokens);
        } catch (err) {
          reportError(err);
        }
      },
    })))) : h('tr', {}, h('td', { colspan: 5, class: 'empty', text: 'No API tokens yet.' })));
  draw(tokens);

  const err = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { 'aria-labelledby': 'new-token-title' },
    h('h3', { id: 'new-token-title', text: 'Create a token' }),
    h('div', { class: 'row' },
      field('Acts as', select(agents.filter((a) => a.active).map((a) => [String(a.id), `${a.name} <${a.email}>`]), { name: 'agent' })),
      field('Name', h('input', { name: 'name', required: true, placeholder: 'e.g. shop integration', autocomplete: 'off' })),
      h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create token' })),
    err);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, err, async () => {
      const r = await api('POST', '/api/admin/tokens', { agent_id: Number(form.elements.agent.value), name: form.elements.name.value });
      form.reset();
      const code = h('code', { text: r.token, dataset: { token: '' } });
      const copy = h('button', { type: 'button', class: 'btn btn-small', text: 'Copy' });
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(r.token);
          copy.textContent = 'Copied';
        } catch {
          getSelection().selectAllChildren(code);
          copy.textContent = 'Press Ctrl+C to copy';
        }
      });
      replace(once, h('div', { class: 'token-once' },
        h('strong', { text: `Token "${r.info.name}" for ${r.info.agent_email}` }),
        h('p', { class: 'small', text: 'Copy it now: it is shown only this once. Send it as "Authorization: Bearer <token>".' }),
        code, copy));
      draw((await api('GET', '/api/admin/tokens')).tokens);
    });
  });
  replace(panel,
    h('section', { class: 'card' }, form, once),
    card('API tokens',
      h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Name', 'Agent', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))),
        body)));
}

// --- support hours ---

async function hoursPanel(panel) {
  const v = await api('GET', '/api/admin/hours');
  let holidays = [...v.holidays];
  const status = h('p', { class: 'muted' });
  const describe = (x) => {
    const src = x.source === 'saved' ? `Saved ${fmtDateTime(x.updated_at)}; overrides the command-line flags.` : 'From the command-line flags (not changed here yet).';
    const now = x.open ? 'Support is open now' : 'Support is closed now';
    let line;
    if (x.next_change) line = `${now}; it ${x.open ? 'closes' : 'opens'} ${fmtDateTime(x.next_change)} (your time).`;
    else line = x.open ? 'Support is open around the clock.' : 'Support is closed, and no opening is scheduled.';
    replace(status, h('strong', { text: line }), h('br'), h('span', { dataset: { source: x.source }, text: src }));
  };
  describe(v);

  const hoursIn = h('input', { name: 'hours', value: v.hours, required: true, autocomplete: 'off', spellcheck: 'false' });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const zoneList = h('datalist', { id: uid('zones') }, zones.map((z) => h('option', { value: z })));
  const zoneIn = h('input', { name: 'timezone', value: v.timezone, list: zoneList.id, required: true, autocomplete: 'off', spellcheck: 'false' });
  const list = h('ul', { class: 'holidays', 'aria-label': 'Holidays' });
  const drawHolidays = () => replace(list, holidays.length ? holidays.map((d) => h('li', {}, h('time', { datetime: d, text: d }),
    h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Remove holiday ${d}`, text: '✕', onclick: () => {
      holidays = holidays.filter((x) => x !== d);
      drawHolidays();
    } }))) : h('li', { class: 'none', text: 'No holidays.' }));
  drawHolidays();
  const dateIn = h('input', { type: 'date', name: 'holiday' });
  const add = h('button', { type: 'button', class: 'btn', text: 'Add holiday', onclick: () => {
    const d = dateIn.value;
    if (!d) {
      dateIn.focus();
      return;
    }
    if (!holidays.includes(d)) holidays = [...holidays, d].sort();
    dateIn.value = '';
    drawHolidays();
    dateIn.focus();
  } });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'hours-form', 'aria-labelledby': 'hours-title', novalidate: true },
    h('h2', { id: 'hours-title', text: 'Support hours' }),
    status,
    field('Weekly hours', hoursIn, 'Groups of days and times, e.g. "Mon-Fri 06:00-18:00, Sat-Sun 07:00-16:00". "Mon-Sun 00:00-24:00" is always open.'),
    field('Time zone', zoneIn, 'An IANA name such as America/Los_Angeles.'), zoneList,
    h('fieldset', { class: 'field' },
      h('legend', { class: 'label', text: 'Holidays (closed all day)' }),
      list,
      h('div', { class: 'row' }, field('Date', dateIn), add)),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save hours' }),
      h('span', { class: 'hint', text: 'Takes effect at once for the status page, chat and SLA due times.' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(form, err, async () => {
      const r = await api('PUT', '/api/admin/hours', { hours: hoursIn.value, timezone: zoneIn.value, holidays });
      hoursIn.value = r.hours;
      zoneIn.value = r.timezone;
      holidays = [...r.holidays];
      drawHolidays();
      describe(r);
      toast('Support hours saved', 'ok');
    });
  });
  replace(panel, h('section', { class: 'card' }, form));
}

// --- inboxes ---

async function inboxesPanel(panel) {
  const { inboxes } = await api('GET', '/api/admin/inboxes');
  const cards = inboxes.map((ib) => {
    const enabled = h('input', { type: 'checkbox', name: 'ack_enabled', checked: ib.ack_enabled });
    const text = h('textarea', { name: 'ack_text', value: ib.ack_text, rows: 10, spellcheck: 'true' });
    const err = h('p', { class: 'form-error', role: 'alert' });
    const state = h('span', { class: 'muted small' });
    const describe = (x) => { state.textContent = x.source === 'saved' ? `Saved ${fmtDateTime(x.updated_at)}` : 'Default'; };
    describe(ib);
    const form = h('form', { class: 'card inbox-card', 'aria-label': `Inbox ${ib.address}` },
      h('h3', {}, h('span', { text: ib.address }), h('span', { class: 'muted', text: `→ ${ib.queue}` }), state),
      h('label', { class: 'check' }, enabled, 'Send an automatic acknowledgement to new tickets'),
      field('Acknowledgement text', text, `Placeholders: ${ib.placeholders.join(' ')}. Leave empty for the default text.`),
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save' }),
        h('button', { type: 'button', class: 'btn', text: 'Reset to default', onclick: () => {
          enabled.checked = ib.default_ack_enabled;
          text.value = ib.default_ack_text;
          form.requestSubmit();
        } })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, err, async () => {
        const r = await api('PUT', `/api/admin/inboxes/${encodeURIComponent(ib.address)}`, {
          ack_enabled: enabled.checked,
          ack_text: text.value === ib.default_ack_text ? '' : text.value,
        });
        enabled.checked = r.ack_enabled;
        text.value = r.ack_text;
        describe(r);
        toast(`Acknowledgement of ${ib.address} saved`, 'ok');
      });
    });
    return form;
  });
  replace(panel, card('Inboxes', h('p', { class: 'muted', text: 'Mail to each address becomes a ticket in its queue. New tickets can get an automatic acknowledgement; automatic mail is never sent to no-reply senders and is rate limited per customer.' })), cards);
}

// --- canned responses ---

async function cannedPanel(panel) {
  const list = h('div', { class: 'panel' });
  const draw = async () => {
    const { canned } = await api('GET', '/api/canned');
    replace(list, canned.length ? canned.map(editor) : h('p', { class: 'empty', text: 'No canned responses yet.' }));
  };
  const editor = (c) => {
    const title = h('input', { name: 'title', value: c.title, required: true });
    const body = h('textarea', { name: 'body', value: c.body, rows: 5 });
    const err = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { class: 'card', 'aria-label': `Canned response ${c.title}` },
      field('Title', title), field('Text', body), err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save' }),
        h('button', { type: 'button', class: 'btn', text: 'Delete', onclick: async () => {
          if (!(await confirmDialog(`Delete the canned response "${c.title}"?`, { confirmLabel: 'Delete', danger: true }))) return;
          try {
            await api('DELETE', `/api/canned/${c.id}`);
            toast('Canned response deleted', 'ok');
            await draw();
          } catch (e) {
            reportError(e);
          }
        } })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, err, async () => {
        await api('PATCH', `/api/canned/${c.id}`, { title: title.value, body: body.value });
        toast('Canned response saved', 'ok');
      });
    });
    return form;
  };
  const err = h('p', { class: 'form-error', role: 'alert' });
  const add = h('form', { 'aria-labelledby': 'canned-new' },
    h('h2', { id: 'canned-new', text: 'New canned response' }),
    field('Title', h('input', { name: 'title', required: true, autocomplete: 'off' })),
    field('Text', h('textarea', { name: 'body', rows: 5 }), 'Placeholders: {{customer_name}}, {{ticket_id}}, {{agent_name}}.'),
    err,
    h('button', { type: 'submit', class: 'btn btn-primary', text: 'Add canned response' }));
  add.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submitting(add, err, async () => {
      await api('POST', '/api/canned', { title: add.elements.title.value, body: add.elements.body.value });
      add.reset();
      toast('Canned response added', 'ok');
      await draw();
    });
  });
  await draw();
  replace(panel, h('section', { class: 'card' }, add), list);
}

// --- knowledge base ---

async function kbPanel(panel) {
  const wrap = h('div', { class: 'kb-layout' });
  replace(panel, wrap);
  const showList = async (focusSlug) => {
    const [{ articles }] = await Promise.all([api('GET', '/api/kb/articles')]);
    const filter = h('input', { type: 'search', placeholder: 'Filter by title or category', 'aria-label': 'Filter articles', class: 'list-filter' });
    const body = h('tbody');
    const draw = () => {
      const q = filter.value.trim().toLowerCase();
      const rows = articles.filter((a) => !q || a.title.toLowerCase().includes(q) || a.category.toLowerCase().includes(q));
      replace(body, rows.map((a) => h('tr', { dataset: { slug: a.slug } },
        h('td', {}, h('button', { type: 'button', class: 'btn-link', text: a.title, onclick: () => edit(a.slug) })),
        h('td', { text: a.category }),
        h('td', {}, h('span', { class: `badge ${a.published ? 'badge-published' : 'badge-draft'}`, text: a.published ? 'Published' : 'Draft' })),
        h('td', { class: 'num' }, a.feedback ? `${a.feedback.helpful} / ${a.feedback.not_helpful}` : ''),
        h('td', {}, timeEl(a.updated_at)))));
    };
    filter.addEventListener('input', draw);
    draw();
    replace(wrap, h('section', { class: 'card' },
      h('div', { class: 'report-head' },
        h('h2', { text: `Knowledge base (${plural(articles.length, 'article')})` }),
        h('button', { type: 'button', class: 'btn btn-primary', text: 'New article', onclick: () => edit(null) })),
      filter,
      h('div', { class: 'scroll-table' }, h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Title', 'Category', 'Status', 'Helpful / not', 'Updated'].map((t) => h('th', { scope: 'col', text: t })))),
        body))));
    if (focusSlug) body.querySelector(`[data-slug="${CSS.escape(focusSlug)}"] button`)?.focus();
  };

  const edit = async (slug) => {
    const { categories } = await api('GET', '/api/kb/categories');
    const a = slug ? await api('GET', `/api/kb/articles/${encodeURIComponent(slug)}`)
      : { slug: '', title: '', category: '', body: '', tags: [], published: false };
    const isNew = !slug;
    const catList = h('datalist', { id: uid('cats') }, categories.map((c) => h('option', { value: c.name })));
    const slugIn = h('input', { name: 'slug', value: a.slug, required: true, disabled: !isNew, pattern: '[a-z0-9]+(-[a-z0-9]+)*', autocomplete: 'off', spellcheck: 'false' });
    const title = h('input', { name: 'title', value: a.title, required: true, autocomplete: 'off' });
    const category = h('input', { name: 'category', value: a.category, list: catList.id, required: true, autocomplete: 'off' });
    const tags = h('input', { name: 'tags', value: (a.tags || []).join(', '), autocomplete: 'off' });
    const body = h('textarea', { name: 'body', value: a.body, spellcheck: 'true' });
    const published = h('input', { type: 'checkbox', name: 'published', checked: a.published });
    const frame = sandboxedFrame(a.html || '', { title: 'Preview', stylesheet: HELP_CSS, className: 'preview-frame', height: 420 });
    frame.dataset.preview = '';
    const previewState = h('span', { class: 'hint', 'aria-live': 'polite' });
    let seq = 0;
    const preview = debounce(async () => {
      const mine = ++seq;
      previewState.textContent = 'Updating preview…';
      try {
        const r = await api('POST', '/api/kb/preview', { body: body.value });
        if (mine !== seq) return;
        setFrameHTML(frame, `<div class="wrap narrow"><article class="article"><h1>${escapeHTML(title.value)}</h1><div class="prose">${r.html}</div></article></div>`, HELP_CSS);
        previewState.textContent = 'Preview up to date';
      } catch (err) {
        if (mine === seq) previewState.textContent = `Preview failed: ${err.message}`;
      }
    }, 300);
    body.addEventListener('input', preview);
    title.addEventListener('input', preview);
    preview();

    const err = h('p', { class: 'form-error', role: 'alert' });
    const state = h('span', { class: `badge ${a.published ? 'badge-published' : 'badge-draft'}`, text: a.published ? 'Published' : 'Draft' });
    const input = () => ({
      title: title.value, category: category.value, body: body.value,
      tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean), published: published.checked,
    });
    const save = async (overrides = {}) => {
      const data = { ...input(), ...overrides };
      const r = isNew ? await api('POST', '/api/kb/articles', { slug: slugIn.value.trim(), ...data })
        : await api('PATCH', `/api/kb/articles/${encodeURIComponent(a.slug)}`, data);
      return r;
    };
    const form = h('form', { class: 'card', 'aria-labelledby': 'kb-edit-title', novalidate: true },
      h('div', { class: 'report-head' },
        h('h2', { id: 'kb-edit-title' }, isNew ? 'New article ' : 'Edit article ', state),
        h('div', { class: 'actions' },
          !isNew ? h('a', { href: a.url, target: '_blank', rel: 'noopener', text: 'View in help center' }) : null,
          h('button', { type: 'button', class: 'btn', text: 'Back to the list', onclick: () => showList(a.slug) }))),
      h('div', { class: 'kb-meta' },
        field('Slug (address)', slugIn, isNew ? 'Lowercase words joined by hyphens; cannot change later.' : `/kb/${a.slug}`),
        field('Title', title),
        field('Category', category), catList),
      field('Tags (comma separated)', tags),
      h('div', { class: 'kb-editor' },
        field('Body (Markdown)', body),
        h('div', { class: 'field' }, h('span', { class: 'label', id: 'preview-label' }, h('strong', { text: 'Preview ' }), previewState), frame)),
      h('label', { class: 'check' }, published, 'Published (visible in the help center and search)'),
      err,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', text: isNew ? 'Create article' : 'Save changes' }),
        !isNew ? h('button', { type: 'button', class: 'btn', text: a.published ? 'Unpublish' : 'Publish', dataset: { toggle: '' }, onclick: () =>
          submitting(form, err, async () => {
            const r = await save({ published: !a.published });
            toast(r.published ? 'Article published' : 'Article unpublished', 'ok');
            await edit(r.slug);
          }) }) : null,
        !isNew ? h('button', { type: 'button', class: 'btn btn-danger', text: 'Delete', onclick: async () => {
          if (!(await confirmDialog(`Delete "${a.title}"? It disappears from the help center and search. This cannot be undone.`, { confirmLabel: 'Delete article', danger: true }))) return;
          try {
            await api('DELETE', `/api/kb/articles/${encodeURIComponent(a.slug)}`);
            toast('Article deleted', 'ok');
            await showList();
          } catch (e) {
            reportError(e);
          }
        } }) : null));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitting(form, err, async () => {
        const r = await save();
        toast(isNew ? 'Article created' : 'Article saved', 'ok');
        await edit(r.slug);
      });
    });
    replace(wrap, form);
    (isNew ? slugIn : title).focus();
  };
  await showList();
}

function escapeHTML(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// --- audit log ---

async function auditPanel(panel) {
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn', text: 'Load older entries' });
  let cursor = '';
  const load = async () => {
    const r = await api('GET', `/api/admin/audit${qs({ limit: 50, cursor })}`);
    cursor = r.next_cursor;
    body.append(...r.entries.map((e) => h('tr', {},
      h('td', {}, timeEl(e.at, fmtDateTime(e.at))),
      h('td', { text: e.actor_email || '—' }),
      h('td', {}, h('code', { text: e.action })),
      h('td', { text: e.target }),
      h('td', { class: 'detail-cell', text: e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '' }),
      h('td', { class: 'mono', text: e.client_ip }))));
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load().catch(reportError));
  await load();
  replace(panel, card('Audit log',
    h('p', { class: 'muted', text: 'Sign-ins, account and token changes, settings and knowledge-base edits, newest first.' }),
    h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Target', 'Detail', 'Address'].map((t) => h('th', { scope: 'col', text: t })))),
      body),
    h('div', { class: 'load-more' }, more)));
}
