// The agent console at /agent: the live ticket queue on the left, the open
// ticket on the right (thread, reply box, notes, status / priority /
// assignee / tags), and, when the server offers live chat, the chats panel
// (chats.js) on the far right.
//
// Live updates are polled: the queue every POLL_MS, and while a ticket is
// open the console tells the server every POLL_MS that this agent is on it
// (viewing or replying), which returns the other agents on it, shown as
// the collision warning.

import { api, qs } from './api.js';
import { h, svg, replace, field, select, timeEl, fmtDateTime, plural, uid } from './dom.js';
import { sandboxedFrame, estimateHeight } from './frame.js';
import { start, toast, reportError } from './shell.js';

const POLL_MS = 10_000;
const PAGE = 25;
const STATUSES = ['new', 'open', 'pending', 'solved', 'closed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const SOON_MS = 60 * 60 * 1000; // an SLA due within this is "due soon"
const EMAIL_CSS = new URL('./email.css', import.meta.url).pathname;

start(async (app, agent) => {
  const c = new Console(app, agent);
  await c.mount();
  return () => c.unmount();
});

class Console {
  constructor(app, agent) {
    this.app = app;
    this.agent = agent;
    this.agents = [];
    this.queues = [];
    this.canned = [];
    this.view = 'all';
    this.filters = { queue: '', status: 'active', assignee: '', tag: '', q: '', sort: 'activity' };
    this.tickets = [];
    this.next = '';
    this.known = null; // ids seen so far, to mark arrivals
    this.openId = 0;
    this.detail = null;
    this.drafts = new Map(); // ticket id -> { mode, text }
    this.lastTyped = 0;
    this.timers = [];
    this.unseen = 0;
    this.chatBadge = 0;
    this.stopChats = null;
  }

  async mount() {
    const [agents, canned] = await Promise.all([
      api('GET', '/api/agents').then((r) => r.agents).catch(() => []),
      api('GET', '/api/canned').then((r) => r.canned || []).catch(() => []),
    ]);
    this.agents = agents;
    this.canned = canned;
    this.queues = JSON.parse(document.body.dataset.queues || '[]');

    this.listEl = h('ul', { class: 'tickets', 'aria-label': 'Tickets' });
    this.metaEl = h('div', { class: 'queue-meta' });
    this.moreEl = h('div', { class: 'load-more' });
    this.liveEl = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    this.detailEl = h('section', { class: 'pane ticket-pane', 'aria-label': 'Ticket' });
    const layout = h('div', { class: 'console' },
      h('section', { class: 'pane queue-pane', 'aria-labelledby': 'queue-title' },
        h('div', { class: 'pane-head' },
          h('h1', { id: 'queue-title', class: 'visually-hidden', text: 'Ticket queue' }),
          this.viewSwitch(), this.filterForm()),
        this.metaEl, this.listEl, this.moreEl, this.liveEl),
      this.detailEl);
    replace(this.app, layout);
    this.renderEmptyDetail();

    if (document.body.dataset.chat === 'on') {
      // Chats are a separate module: a fault there must not cost the queue.
      const pane = h('section', { class: 'pane chats-pane', 'aria-label': 'Live chats' });
      layout.classList.add('with-chats');
      layout.append(pane);
      try {
        const { mountChats } = await import('./chats.js');
        this.stopChats = mountChats(pane, { agent: this.agent, agents: this.agents, toast, setBadge: (n) => this.setChatBadge(n) });
      } catch (err) {
        replace(pane, h('p', { class: 'notice notice-error', role: 'alert', text: `Chats could not be loaded: ${err.message}` }));
      }
    }

    this.onHash = () => this.routeFromHash();
    window.addEventListener('hashchange', this.onHash);
    this.onVisible = () => {
      if (!document.hidden) {
        this.unseen = 0;
        this.updateTitle();
        this.refresh();
      }
    };
    document.addEventListener('visibilitychange', this.onVisible);
    await this.refresh();
    this.routeFromHash();
    this.timers.push(setInterval(() => { if (!document.hidden) this.refresh(); }, POLL_MS));
    this.timers.push(setInterval(() => this.heartbeat(), POLL_MS));
  }

  unmount() {
    for (const t of this.timers) clearInterval(t);
    window.removeEventListener('hashchange', this.onHash);
    document.removeEventListener('visibilitychange', this.onVisible);
    if (this.stopChats) this.stopChats();
  }

  // --- title badge ---

  setChatBadge(n) {
    this.chatBadge = n;
    this.updateTitle();
  }

  updateTitle() {
    const n = this.unseen + this.chatBadge;
    document.title = (n > 0 ? `(${n}) ` : '') + document.title.replace(/^\(\d+\) /, '');
  }

  // --- queue ---

  viewSwitch() {
    const name = uid('view');
    const opt = (value, label) => h('label', {},
      h('input', { type: 'radio', name, value, checked: this.view === value, onchange: () => {
        this.view = value;
        this.assigneeSelect.disabled = value !== 'all';
        this.refresh({ reset: true });
      } }), label);
    return h('div', { class: 'views', role: 'radiogroup', 'aria-label': 'Which tickets' },
      opt('all', 'All'), opt('unassigned', 'Unassigned'), opt('mine', 'Mine'));
  }

  filterForm() {
    const f = this.filters;
    const onChange = (key) => (ev) => {
      f[key] = ev.target.value.trim();
      this.refresh({ reset: true });
    };
    const queue = select([['', 'All queues'], ...this.queues.map((q) => [q, q])], { name: 'queue', onchange: onChange('queue') }, f.queue);
    const status = select([['active', 'Active (not solved)'], ['', 'Any status'], ...STATUSES.map((s) => [s, cap(s)])],
      { name: 'status', onchange: onChange('status') }, f.status);
    this.assigneeSelect = select([['', 'Anyone'], ...this.agents.map((a) => [String(a.id), a.id === this.agent.id ? `${a.name} (me)` : a.name])],
      { name: 'assignee', onchange: onChange('assignee') }, f.assignee);
    const tag = h('input', { name: 'tag', type: 'text', placeholder: 'e.g. refund', autocomplete: 'off', onchange: onChange('tag') });
    const q = h('input', { name: 'q', type: 'search', placeholder: 'Subject, customer, text…', autocomplete: 'off', onchange: onChange('q') });
    const sort = select([['activity', 'Latest activity'], ['sla_due', 'SLA due first']], { name: 'sort', onchange: onChange('sort') }, f.sort);
    return h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tickets', onsubmit: (ev) => ev.preventDefault() },
      field('Queue', queue), field('Status', status),
      field('Assignee', this.assigneeSelect), field('Tag', tag),
      h('div', { class: 'span2' }, field('Search', q)),
      h('div', { class: 'span2' }, field('Sort', sort)));
  }

  query(cursor, limit = PAGE) {
    const f = this.filters;
    return qs({
      queue: f.queue,
      status: f.status === 'active' ? 'new,open,pending' : f.status,
      assignee: this.view === 'all' ? f.assignee : '',
      unassigned: this.view === 'unassigned',
      mine: this.view === 'mine',
      tag: f.tag,
      q: f.q,
      sort: f.sort === 'activity' ? '' : f.sort,
      limit,
      cursor,
    });
  }

  /**
   * refresh reloads the first page(s) of the queue. On a poll it asks for
   * as many tickets as are shown, so "load more" pages stay in place.
   */
  async refresh({ reset = false } = {}) {
    const limit = reset ? PAGE : Math.min(100, Math.max(PAGE, this.tickets.length));
    let page;
    try {
      page = await api('GET', `/api/tickets${this.query('', limit)}`);
    } catch (err) {
      if (err.status !== 401) this.metaEl.textContent = `Could not load tickets: ${err.message}`;
      return;
    }
    const fresh = [];
    if (this.known && !reset) {
      for (const t of page.tickets) if (!this.known.has(t.id)) fresh.push(t.id);
    }
    this.known = this.known || new Set();
    for (const t of page.tickets) this.known.add(t.id);
    this.tickets = page.tickets;
    this.next = page.next_cursor;
    this.renderList(new Set(fresh));
    if (fresh.length) {
      this.liveEl.textContent = `${plural(fresh.length, 'new ticket')} in the queue`;
      if (document.hidden) {
        this.unseen += fresh.length;
        this.updateTitle();
      }
    }
    // The open ticket changed (a customer answered, a colleague replied):
    // show it, keeping whatever is being typed.
    const open = this.tickets.find((t) => t.id === this.openId);
    if (open && this.detail && open.updated_at !== this.detail.updated_at) this.loadTicket(this.openId, { keepFocus: true });
  }

  async loadMore() {
    if (!this.next) return;
    try {
      const page = await api('GET', `/api/tickets${this.query(this.next)}`);
      for (const t of page.tickets) this.known.add(t.id);
      this.tickets = this.tickets.concat(page.tickets);
      this.next = page.next_cursor;
      this.renderList(new Set());
    } catch (err) {
      reportError(err);
    }
  }

  renderList(fresh) {
    // A poll that changed nothing leaves the list (and the focus in it)
    // alone; otherwise the row that had the focus gets it back.
    const sig = JSON.stringify([this.openId, this.next, this.tickets.map((t) => [t.id, t.updated_at, t.status, t.priority, t.assignee?.id, t.tags, slaState(t)])]);
    const focused = this.listEl.contains(document.activeElement) ? document.activeElement.closest('[data-id]')?.dataset.id : null;
    if (sig !== this.listSig || fresh.size) {
      this.listSig = sig;
      const rows = this.tickets.map((t) => this.row(t, fresh.has(t.id)));
      replace(this.listEl, rows.length ? rows : h('li', { class: 'empty', text: 'No tickets match these filters.' }));
      if (focused) this.listEl.querySelector(`[data-id="${focused}"] a`)?.focus();
    }
    replace(this.metaEl,
      h('span', { text: this.next ? `Showing ${this.tickets.length}` : plural(this.tickets.length, 'ticket') }),
      h('span', {}, 'Updated ', timeEl(new Date().toISOString(), new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }))));
    replace(this.moreEl, this.next ? h('button', { type: 'button', class: 'btn', text: 'Load more', onclick: () => this.loadMore() }) : null);
    this.moreEl.hidden = !this.next;
  }

  row(t, isNew) {
    const who = t.requester.name || t.requester.email || 'Unknown sender';
    return h('li', { class: ['ticket-row', isNew && 'is-new'], dataset: { id: t.id } },
      h('a', { href: `#/tickets/${t.id}`, 'aria-current': t.id === this.openId ? 'true' : null },
        h('span', { class: 't-subject' }, h('span', { class: 't-id', text: `#${t.id}` }), t.subject || '(no subject)'),
        h('span', { class: 't-time' }, timeEl(t.updated_at)),
        h('span', { class: 't-meta' },
          statusBadge(t.status),
          t.priority === 'urgent' || t.priority === 'high' ? h('span', { class: `badge badge-${t.priority}`, text: t.priority }) : null,
          slaBadge(t),
          h('span', { text: who }),
          h('span', { text: `· ${t.queue}` }),
          h('span', { text: t.assignee ? `· ${t.assignee.name}` : '· Unassigned' }),
          (t.tags || []).length ? h('span', { text: `· ${t.tags.map((x) => `#${x}`).join(' ')}` }) : null)));
  }

  // --- ticket view ---

  routeFromHash() {
    const m = /^#\/tickets\/(\d+)$/.exec(location.hash);
    const id = m ? Number(m[1]) : 0;
    if (id && id !== this.openId) this.loadTicket(id);
    if (!id && this.openId) {
      this.openId = 0;
      this.detail = null;
      this.renderEmptyDetail();
    }
  }

  renderEmptyDetail() {
    replace(this.detailEl, h('div', { class: 'ticket-empty' },
      h('div', {}, h('h2', { text: 'No ticket open' }), h('p', { text: 'Pick a ticket from the queue to read and answer it.' }))));
  }

  async loadTicket(id, { keepFocus = false } = {}) {
    if (id !== this.openId) {
      this.saveDraft();
      this.openId = id;
      for (const a of this.listEl.querySelectorAll('a[aria-current]')) a.removeAttribute('aria-current');
      this.listEl.querySelector(`[data-id="${id}"] a`)?.setAttribute('aria-current', 'true');
      replace(this.detailEl, h('p', { class: 'empty', text: `Loading ticket #${id}…` }));
    }
    let d;
    try {
      d = await api('GET', `/api/tickets/${id}`);
    } catch (err) {
      if (id === this.openId) replace(this.detailEl, h('p', { class: 'notice notice-error', role: 'alert', text: `Ticket #${id} could not be loaded: ${err.message}` }));
      return;
    }
    if (id !== this.openId) return;
    // A refresh while the agent is typing keeps the draft, the caret and
    // the scroll position.
    const typing = keepFocus && this.textarea && document.activeElement === this.textarea
      ? { start: this.textarea.selectionStart, end: this.textarea.selectionEnd } : null;
    const scroll = window.scrollY;
    if (keepFocus) this.saveDraft();
    const first = !this.detail || this.detail.id !== id;
    this.detail = d;
    this.renderDetail();
    if (first) this.detailEl.querySelector('h1')?.focus();
    if (keepFocus) window.scrollTo(0, scroll);
    if (typing) {
      this.textarea.focus();
      this.textarea.setSelectionRange(typing.start, typing.end);
    }
  }

  saveDraft() {
    if (!this.openId || !this.textarea) return;
    this.drafts.set(this.openId, { mode: this.mode, text: this.textarea.value });
  }

  renderDetail() {
    const d = this.detail;
    this.viewersEl = h('div', { class: 'viewers', 'aria-live': 'polite', hidden: true });
    this.historyEl = h('aside', { class: 'customer-history', 'aria-label': 'This customer\'s earlier tickets and chats' });
    replace(this.detailEl,
      this.head(d),
      this.historyEl,
      this.viewersEl,
      this.controls(d),
      h('h2', { class: 'visually-hidden', text: 'Conversation' }),
      h('ol', { class: 'thread' }, d.messages.map((m) => this.message(d, m))),
      this.composer(d));
    this.renderViewers(d.viewers || []);
    this.loadHistory(d);
  }

  // loadHistory fills the customer sidebar: the requester's other tickets
  // (ticket search by address, kept to exact requester matches) and chats
  // (matched by email). Results are cached per address for a minute, since
  // the detail view re-renders on every poll.
  async loadHistory(d) {
    const email = (d.requester && d.requester.email) || '';
    const el = this.historyEl;
    if (!email) return;
    this.historyCache = this.historyCache || new Map();
    let entry = this.historyCache.get(email);
    if (!entry || Date.now() - entry.at > 60000) {
      try {
        const [t, c] = await Promise.all([
          api('GET', `/api/tickets?limit=20&q=${encodeURIComponent(email)}`),
          api('GET', `/api/chat/conversations?limit=10&email=${encodeURIComponent(email)}`).catch(() => ({ conversations: [] })),
        ]);
        entry = { at: Date.now(), tickets: (t.tickets || []).filter((x) => x.requester && x.requester.email === email), chats: c.conversations || [] };
        this.historyCache.set(email, entry);
      } catch (err) {
        return; // the sidebar is a convenience: the ticket view works without it
      }
    }
    if (el !== this.historyEl) return; // the view moved on meanwhile
    const others = entry.tickets.filter((x) => x.id !== d.id);
    replace(el,
      h('h2', { text: 'Customer history' }),
      others.length === 0 && entry.chats.length === 0 ? h('p', { class: 'muted', text: 'No earlier tickets or chats.' }) : null,
      others.length ? h('ul', { class: 'history-tickets' }, others.slice(0, 10).map((x) => h('li', {},
        h('a', { href: `#/tickets/${x.id}`, text: `#${x.id} ${x.subject || '(no subject)'}` }), ' ', statusBadge(x.status)))) : null,
      entry.chats.length ? h('ul', { class: 'history-chats' }, entry.chats.map((c) => h('li', {},
        h('span', { text: `Chat ${c.id} · ${c.status}${c.rating ? ` · rated ${c.rating}/5` : ''} · ` }), timeEl(c.created_at)))) : null);
  }

  head(d) {
    const r = d.requester;
    return h('header', { class: 'ticket-head' },
      h('h1', { tabindex: '-1' }, h('span', { class: 't-id', text: `#${d.id}` }), d.subject || '(no subject)'),
      h('div', { class: 'ticket-sub' },
        statusBadge(d.status),
        slaBadge(d, true),
        h('span', {}, 'From ', h('strong', { text: r.name || r.email || 'unknown' }), r.name && r.email ? ` <${r.email}>` : ''),
        h('span', { text: `Queue: ${d.queue}` }),
        h('span', {}, 'Opened ', timeEl(d.created_at)),
        d.followup_of ? h('a', { href: `#/tickets/${d.followup_of}`, text: `Follow-up of #${d.followup_of}` }) : null));
  }

  controls(d) {
    const closed = d.status === 'closed';
    const status = select(STATUSES.map((s) => [s, cap(s)]), { disabled: closed }, d.status);
    for (const o of status.options) o.disabled = !canBecome(d.status, o.value);
    status.addEventListener('change', () => this.patch({ status: status.value }, `Status set to ${status.value}`));
    const priority = select(PRIORITIES.map((p) => [p, cap(p)]), { disabled: closed }, d.priority);
    priority.addEventListener('change', () => this.patch({ priority: priority.value }, `Priority set to ${priority.value}`));
    const known = this.agents.some((a) => d.assignee && a.id === d.assignee.id);
    const assignee = select([
      ['', 'Unassigned'],
      ...this.agents.map((a) => [String(a.id), a.id === this.agent.id ? `${a.name} (me)` : a.name]),
      ...(d.assignee && !known ? [[String(d.assignee.id), d.assignee.name]] : []),
    ], {}, d.assignee ? String(d.assignee.id) : '');
    assignee.addEventListener('change', () => {
      const v = assignee.value;
      this.patch({ assignee: v ? Number(v) : null }, v ? `Assigned to ${assignee.selectedOptions[0].text}` : 'Unassigned');
    });
    const tags = h('input', { type: 'text', value: (d.tags || []).join(', '), placeholder: 'refund, damaged', autocomplete: 'off' });
    const saveTags = () => {
      const list = tags.value.split(',').map((t) => t.trim()).filter(Boolean);
      this.patch({ tags: list }, 'Tags saved');
    };
    tags.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); saveTags(); } });
    return h('div', { class: 'controls' },
      field('Status', status), field('Priority', priority), field('Assignee', assignee),
      h('div', { class: 'field' },
        h('label', { for: (tags.id = uid('tags')), text: 'Tags (comma separated)' }),
        h('div', { class: 'tags-edit' }, tags, h('button', { type: 'button', class: 'btn btn-small', text: 'Save tags', onclick: saveTags }))));
  }

  async patch(body, done) {
    const id = this.openId;
    try {
      const t = await api('PATCH', `/api/tickets/${id}`, body);
      if (id !== this.openId) return;
      this.saveDraft();
      Object.assign(this.detail, t);
      this.renderDetail();
      toast(done, 'ok');
      this.refresh();
    } catch (err) {
      reportError(err);
      if (id === this.openId) this.renderDetail(); // put the controls back
    }
  }

  message(d, m) {
    const label = {
      inbound: m.bounce ? 'Bounce' : m.auto_submitted ? 'Automatic reply' : 'Customer',
      outbound: 'Reply',
      note: 'Internal note',
      chat: 'Chat',
    }[m.kind] || m.kind;
    const fromName = m.from.name || m.from.email || (m.kind === 'note' ? 'Agent' : 'Unknown');
    const body = h('div', { class: 'msg-body' });
    if (m.html && (m.kind === 'inbound' || m.kind === 'chat')) {
      const frame = sandboxedFrame(m.html, { title: `Email from ${fromName}`, stylesheet: EMAIL_CSS, height: estimateHeight(m.html) });
      const box = h('div', { class: 'frame-box' }, frame);
      const text = h('pre', { class: 'msg-text', hidden: true, text: m.text });
      const toggle = h('button', { type: 'button', class: 'btn-link', text: 'Show plain text' });
      toggle.addEventListener('click', () => {
        const plain = text.hidden;
        text.hidden = !plain;
        box.hidden = plain;
        toggle.textContent = plain ? 'Show formatted email' : 'Show plain text';
      });
      const expand = h('button', { type: 'button', class: 'btn-link', text: 'Expand' });
      expand.addEventListener('click', () => {
        const tall = frame.dataset.tall !== '1';
        frame.dataset.tall = tall ? '1' : '';
        frame.style.height = tall ? '80vh' : `${estimateHeight(m.html)}px`;
        expand.textContent = tall ? 'Collapse' : 'Expand';
      });
      body.append(box, text, h('div', { class: 'msg-tools' }, toggle, expand));
    } else {
      body.append(h('pre', { class: 'msg-text', text: m.text || '(no text)' }));
    }
    if ((m.attachments || []).length) {
      body.append(h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
        m.attachments.map((a) => h('li', {}, h('a', { href: a.url, download: a.filename || 'attachment' }, clipIcon(), `${a.filename || 'attachment'} (${size(a.size)})`)))));
    }
    if ((m.warnings || []).length) body.append(h('p', { class: 'msg-warn', text: `Parts of this email could not be read: ${m.warnings.join('; ')}` }));
    return h('li', { class: ['msg', `msg-${m.kind}`], dataset: { kind: m.kind, id: m.id } },
      h('div', { class: 'msg-head' },
        h('span', { class: m.kind === 'note' ? 'badge badge-note' : 'badge', text: label }),
        h('span', { class: 'msg-from', text: fromName }),
        m.from.email && m.from.name ? h('span', { class: 'msg-addr', text: `<${m.from.email}>` }) : null,
        m.kind === 'outbound' && m.delivery ? h('span', { class: `badge ${m.delivery === 'failed' ? 'badge-urgent' : ''}`, text: m.delivery }) : null,
        h('span', { class: 'msg-time' }, timeEl(m.created_at, fmtDateTime(m.created_at)))),
      body);
  }

  composer(d) {
    const draft = this.drafts.get(d.id) || { mode: 'reply', text: '' };
    this.mode = draft.mode;
    const closed = d.status === 'closed';
    const name = uid('mode');
    const textarea = h('textarea', { id: uid('compose'), rows: 7, value: draft.text });
    this.textarea = textarea;
    const label = h('label', { for: textarea.id });
    const send = h('button', { type: 'submit', class: 'btn btn-primary' });
    const after = select([['pending', 'Pending (wait for customer)'], ['open', 'Open'], ['solved', 'Solved']], {}, 'pending');
    const afterField = h('span', { class: 'row' }, field('Then set status', after));
    const form = h('form', { class: 'composer', 'aria-label': 'Answer' });
    const setMode = (mode) => {
      this.mode = mode;
      form.classList.toggle('is-note', mode === 'note');
      label.textContent = mode === 'note' ? 'Internal note (only agents see it)' : `Reply to ${d.requester.email || 'the customer'}`;
      send.textContent = mode === 'note' ? 'Add note' : 'Send reply';
      afterField.hidden = mode === 'note';
    };
    const modeRadio = (value, text) => h('label', {},
      h('input', { type: 'radio', name, value, checked: draft.mode === value, onchange: () => setMode(value) }), text);
    const canned = select([['', this.canned.length ? 'Insert canned response…' : 'No canned responses yet'], ...this.canned.map((c) => [String(c.id), c.title])],
      { 'aria-label': 'Insert a canned response', disabled: !this.canned.length });
    canned.addEventListener('change', async () => {
      const cid = canned.value;
      canned.value = '';
      if (!cid) return;
      try {
        const r = await api('GET', `/api/tickets/${d.id}/canned/${cid}`);
        insertAtCursor(textarea, r.text);
        textarea.focus();
      } catch (err) {
        reportError(err);
      }
    });
    textarea.addEventListener('input', () => { this.lastTyped = Date.now(); });
    textarea.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = textarea.value;
      if (!text.trim()) {
        toast(this.mode === 'note' ? 'Write the note first.' : 'Write the reply first.', 'error');
        textarea.focus();
        return;
      }
      send.disabled = true;
      try {
        if (this.mode === 'note') {
          await api('POST', `/api/tickets/${d.id}/notes`, { text });
          toast('Note added', 'ok');
        } else {
          await api('POST', `/api/tickets/${d.id}/replies`, { text, status: after.value });
          toast('Reply sent', 'ok');
        }
        this.drafts.delete(d.id);
        textarea.value = '';
        this.lastTyped = 0;
        await this.loadTicket(d.id);
        this.refresh();
      } catch (err) {
        reportError(err);
      } finally {
        send.disabled = false;
      }
    });
    form.append(
      h('div', { class: 'composer-top' },
        h('div', { class: 'views', role: 'radiogroup', 'aria-label': 'Answer as' }, modeRadio('reply', 'Reply'), modeRadio('note', 'Internal note')),
        canned),
      label, textarea,
      h('div', { class: 'composer-bottom' },
        afterField,
        h('span', { class: 'hint', text: 'Ctrl+Enter sends' }),
        send));
    setMode(draft.mode);
    if (closed) {
      for (const el of form.querySelectorAll('textarea, button, select, input')) el.disabled = true;
      form.prepend(h('p', { class: 'notice', text: 'This ticket is closed. A customer who writes again gets a follow-up ticket.' }));
    }
    return form;
  }

  // --- collision indicator ---

  async heartbeat() {
    const id = this.openId;
    if (!id || document.hidden) return;
    const replying = this.textarea && this.textarea.value.trim() && Date.now() - this.lastTyped < 30_000;
    try {
      const r = await api('POST', `/api/tickets/${id}/viewing`, { activity: replying ? 'replying' : 'viewing' });
      if (id === this.openId) this.renderViewers(r.viewers || []);
    } catch {
      // The next beat tries again; the indicator keeps its last state.
    }
  }

  renderViewers(viewers) {
    const others = viewers.filter((v) => v.agent_id !== this.agent.id);
    if (!this.viewersEl) return;
    this.viewersEl.hidden = others.length === 0;
    replace(this.viewersEl, others.length ? [h('span', { class: 'dot dot-away', 'aria-hidden': 'true' }),
      others.map((v, i) => h('span', { class: v.activity === 'replying' ? 'viewer-replying' : '' },
        `${v.name} is ${v.activity === 'replying' ? 'replying' : 'viewing'}${i < others.length - 1 ? ',' : ''}`))] : []);
  }
}

function cap(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function statusBadge(s) {
  return h('span', { class: `badge badge-${s}`, text: s });
}

/** canBecome mirrors the server's rule: nothing goes back to new, closed is final. */
function canBecome(from, to) {
  if (from === to) return true;
  return from !== 'closed' && to !== 'new';
}

/**
 * slaBadge marks a ticket still waiting for its first response whose due
 * time has passed (breached) or is within the hour (due soon). long adds
 * the due time for the ticket view.
 */
function slaBadge(t, long = false) {
  if (!t.sla_due_at || t.first_response_at || t.status === 'solved' || t.status === 'closed') return null;
  const due = new Date(t.sla_due_at).getTime();
  const left = due - Date.now();
  if (left < 0) return h('span', { class: 'badge badge-breached', title: `First response was due ${fmtDateTime(t.sla_due_at)}`, text: 'SLA breached' });
  if (left < SOON_MS) return h('span', { class: 'badge badge-soon', title: `First response due ${fmtDateTime(t.sla_due_at)}`, text: `Due in ${Math.max(1, Math.round(left / 60000))} min` });
  return long ? h('span', { class: 'muted', text: `First response due ${fmtDateTime(t.sla_due_at)}` }) : null;
}

function clipIcon() {
  return svg('svg', { class: 'icon', viewBox: '0 0 24 24', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d: 'M21 11.5 12.5 20a5.5 5.5 0 0 1-7.8-7.8l8.5-8.5a3.7 3.7 0 0 1 5.2 5.2l-8.5 8.5a1.8 1.8 0 0 1-2.6-2.6L15 7', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round' }));
}

/** slaState is what slaBadge shows for t now, so that a list redraws when a badge changes. */
function slaState(t) {
  if (!t.sla_due_at || t.first_response_at || t.status === 'solved' || t.status === 'closed') return '';
  const left = new Date(t.sla_due_at).getTime() - Date.now();
  return left < 0 ? 'breached' : left < SOON_MS ? `soon-${Math.round(left / 60000)}` : '';
}

function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function insertAtCursor(textarea, text) {
  const { selectionStart: s, selectionEnd: e, value } = textarea;
  textarea.value = value.slice(0, s) + text + value.slice(e);
  textarea.selectionStart = textarea.selectionEnd = s + text.length;
}
