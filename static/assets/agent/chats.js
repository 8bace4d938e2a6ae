// Live chats in the agent console, over the agent websocket /ws/agent
// (protocol: docs/chat-protocol.md). console.js mounts this panel only when
// the page says the server offers chat (body[data-chat="on"]).
//
// What it does: the agent's availability (online / away / offline);
// incoming offers with a short beep and a count in the page title, to
// accept or decline; several chats at once as tabs, each with its
// messages, the customer's typing and read markers; sending with a
// client_id, resent after a reconnect until acknowledged (the server
// stores a client_id once); ending a chat; transferring it to a colleague
// or back to the queue; and searching the FAQ to paste an article link.
//
// The socket reconnects with backoff. On every (re)connect the server
// sends each active chat again with all its messages; messages are keyed
// by seq, so none is shown twice.

import { api, qs } from './api.js';
import { h, replace, select, uid, fmtTime, debounce } from './dom.js';

const MAX_BACKOFF = 15_000;
const TYPING_EVERY = 2_000;

/**
 * mountChats builds the chats panel in pane. opts: agent (the signed-in
 * agent), agents (colleagues for transfers), toast(message, kind),
 * setBadge(n) (unseen offers and messages, for the page title). It returns
 * a function that closes the socket.
 */
export function mountChats(pane, { agent, agents = [], toast = () => {}, setBadge = () => {} }) {
  const chats = new Map(); // conversation id -> chat
  const offers = new Map(); // conversation id -> offer frame
  const pending = new Map(); // client_id -> frame, until acked
  let ws = null;
  let stopped = false;
  let backoff = 1000;
  let reconnectTimer = 0;
  let current = 0; // the conversation shown
  let wantStatus = 'online';
  let audio = null;
  let logEl = null; // the shown chat's message list
  let typingEl = null;

  // --- layout ---
  const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  const conn = h('span', { class: 'small muted', text: 'Connecting…' });
  const status = select([['online', 'Online'], ['away', 'Away'], ['offline', 'Offline']], { 'aria-label': 'Chat availability' }, 'online');
  status.addEventListener('change', () => {
    wantStatus = status.value;
    unlockAudio();
    send({ type: 'status', status: wantStatus });
  });
  const offersEl = h('ul', { class: 'offers', 'aria-label': 'Chat offers', 'aria-live': 'assertive' });
  const tabsEl = h('div', { class: 'chat-tabs', role: 'tablist', 'aria-label': 'Your chats' });
  const view = h('div', { class: 'chat-view' });
  replace(pane,
    h('div', { class: 'pane-head' },
      h('h2', { text: 'Chats' }),
      h('div', { class: 'chat-status' }, dot, status, conn)),
    offersEl, tabsEl, view);
  renderView();

  // --- socket ---
  function connect() {
    if (stopped) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/agent`;
    ws = new WebSocket(url);
    conn.textContent = 'Connecting…';
    ws.addEventListener('open', () => {
      backoff = 1000;
      conn.textContent = '';
      if (wantStatus !== 'online') send({ type: 'status', status: wantStatus });
      // Messages not acknowledged before the drop are sent again; the
      // server stores each client_id once.
      for (const f of pending.values()) send(f);
    });
    ws.addEventListener('message', (ev) => {
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      onFrame(f);
    });
    ws.addEventListener('close', () => {
      ws = null;
      dot.className = 'dot';
      if (stopped) return;
      conn.textContent = `Reconnecting in ${Math.round(backoff / 1000)} s…`;
      reconnectTimer = setTimeout(connect, backoff);
      backoff = Math.min(MAX_BACKOFF, backoff * 2);
    });
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
      case 'status':
        status.value = f.status || status.value;
        dot.className = `dot dot-${f.status}`;
        break;
      case 'offer':
        offers.set(f.conversation, f);
        beep();
        renderOffers();
        break;
      case 'offer_withdrawn':
        offers.delete(f.conversation);
        renderOffers();
        break;
      case 'assigned': {
        offers.delete(f.conversation);
        let c = chats.get(f.conversation);
        if (!c) {
          c = { id: f.conversation, customer: f.customer || {}, messages: new Map(), lastSeq: 0, unread: 0, ended: false, typingUntil: 0, readSeq: 0 };
          chats.set(f.conversation, c);
          if (!current) current = c.id;
        }
        c.customer = f.customer || c.customer;
        if (f.transferred) toast(`A chat with ${c.customer.name || 'a customer'} was transferred to you.`);
        renderOffers();
        renderTabs();
        if (c.id === current) renderView();
        break;
      }
      case 'unassigned':
        chats.delete(f.conversation);
        if (current === f.conversation) current = chats.keys().next().value || 0;
        renderTabs();
        renderView();
        break;
      case 'message': {
        const c = chats.get(f.conversation);
        if (!c || c.messages.has(f.seq)) break;
        c.messages.set(f.seq, f);
        c.lastSeq = Math.max(c.lastSeq, f.seq);
        if (f.from === 'customer') {
          c.typingUntil = 0;
          if (c.id !== current || document.hidden) c.unread += 1;
        }
        if (f.client_id) pending.delete(f.client_id);
        renderTabs();
        if (c.id === current) {
          appendMessage(f);
          markRead(c);
        }
        break;
      }
      case 'ack':
        pending.delete(f.client_id);
        break;
      case 'typing': {
        const c = chats.get(f.conversation);
        if (c && f.from === 'customer') {
          c.typingUntil = Date.now() + 4000;
          if (c.id === current) renderTyping(c);
        }
        break;
      }
      case 'read': {
        const c = chats.get(f.conversation);
        if (c) c.readSeq = Math.max(c.readSeq, f.seq || 0);
        break;
      }
      case 'ended': {
        const c = chats.get(f.conversation);
        if (c) {
          c.ended = true;
          renderTabs();
          if (c.id === current) renderView();
        }
        break;
      }
      case 'error':
        if (f.client_id) pending.delete(f.client_id);
        if (f.code !== 'rate_limited') toast(f.message || 'Chat error', 'error');
        break;
      default:
    }
    updateBadge();
  }

  // --- offers ---
  function renderOffers() {
    replace(offersEl, [...offers.values()].map((o) => h('li', { class: 'offer' },
      h('strong', { text: `${o.customer?.name || 'A customer'} wants to chat` }),
      o.preview ? h('p', { class: 'small', text: `“${o.preview}”` }) : null,
      h('p', { class: 'small muted', text: `Waiting since ${fmtTime(o.waiting_since)} · offer ends ${fmtTime(o.expires_at)}` }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-primary btn-small', text: 'Accept', onclick: () => {
          unlockAudio();
          current = o.conversation;
          send({ type: 'accept', conversation: o.conversation });
        } }),
        h('button', { type: 'button', class: 'btn btn-small', text: 'Decline', onclick: () => send({ type: 'decline', conversation: o.conversation }) })))));
  }

  // --- chats ---
  function renderTabs() {
    replace(tabsEl, [...chats.values()].map((c) => h('button', {
      type: 'button', role: 'tab', class: 'chat-tab', 'aria-selected': String(c.id === current),
      onclick: () => {
        current = c.id;
        renderTabs();
        renderView();
      },
    }, c.customer.name || `Chat ${c.id}`, c.ended ? ' (ended)' : '', c.unread ? h('span', { class: 'unread', text: String(c.unread) }) : null)));
    tabsEl.hidden = chats.size === 0;
  }

  function renderView() {
    const c = chats.get(current);
    if (!c) {
      logEl = null;
      replace(view, h('p', { class: 'empty', text: offers.size ? 'Accept an offer to start chatting.' : 'No chats right now. Offers appear here while you are online.' }));
      return;
    }
    logEl = h('ol', { class: 'chat-log', 'aria-label': `Chat with ${c.customer.name || 'customer'}`, 'aria-live': 'polite' });
    for (const m of [...c.messages.values()].sort((a, b) => a.seq - b.seq)) logEl.append(messageEl(m));
    typingEl = h('p', { class: 'chat-typing', 'aria-live': 'polite' });
    const text = h('textarea', { id: uid('chat'), rows: 3, disabled: c.ended });
    let lastTyping = 0;
    text.addEventListener('input', () => {
      if (Date.now() - lastTyping > TYPING_EVERY) {
        lastTyping = Date.now();
        send({ type: 'typing', conversation: c.id });
      }
    });
    const submit = () => {
      const t = text.value.trim();
      if (!t) return;
      const f = { type: 'message', conversation: c.id, client_id: crypto.randomUUID(), text: t };
      pending.set(f.client_id, f);
      send(f);
      text.value = '';
      text.focus();
    };
    text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) {
        ev.preventDefault();
        submit();
      }
    });
    const transferTo = select([['', 'Transfer to…'], ['queue', 'Back to the queue'],
      ...agents.filter((a) => a.id !== agent.id).map((a) => [String(a.id), a.name])], { 'aria-label': 'Transfer this chat', disabled: c.ended });
    transferTo.addEventListener('change', () => {
      const v = transferTo.value;
      if (!v) return;
      send(v === 'queue' ? { type: 'transfer', conversation: c.id, queue: true } : { type: 'transfer', conversation: c.id, to_agent_id: Number(v) });
      transferTo.value = '';
    });
    const endBtn = c.ended
      ? h('button', { type: 'button', class: 'btn btn-small', text: 'Close tab', onclick: () => {
        chats.delete(c.id);
        current = chats.keys().next().value || 0;
        renderTabs();
        renderView();
        updateBadge();
      } })
      : h('button', { type: 'button', class: 'btn btn-small', text: 'End chat', onclick: () => send({ type: 'close', conversation: c.id }) });
    replace(view,
      h('p', { class: 'small muted chat-customer' }, c.customer.name || 'Customer', c.customer.email ? ` · ${c.customer.email}` : ''),
      logEl, typingEl,
      h('div', { class: 'chat-compose' },
        h('label', { for: text.id, class: 'visually-hidden', text: 'Message' }),
        text,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-primary btn-small', text: 'Send', disabled: c.ended, onclick: submit }),
          transferTo, endBtn),
        faqSearch(text, c.ended)));
    logEl.scrollTop = logEl.scrollHeight;
    c.unread = 0;
    markRead(c);
    renderTyping(c);
    renderTabs();
  }

  function messageEl(m) {
    return h('li', { class: ['chat-line', `from-${m.from}`], dataset: { seq: m.seq } },
      m.from === 'system' ? null : h('span', { class: 'visually-hidden', text: `${m.author || m.from}: ` }),
      m.text,
      (m.attachments || []).map((a) => h('div', {}, h('a', { href: a.url, download: a.name, text: a.name }))));
  }

  function appendMessage(m) {
    if (!logEl) return;
    const after = [...logEl.children].find((el) => Number(el.dataset.seq) > m.seq);
    logEl.insertBefore(messageEl(m), after || null);
    logEl.scrollTop = logEl.scrollHeight;
  }

  function renderTyping(c) {
    if (!typingEl) return;
    const on = c.typingUntil > Date.now();
    typingEl.textContent = on ? `${c.customer.name || 'The customer'} is typing…` : '';
    if (on) setTimeout(() => { if (c.id === current) renderTyping(c); }, c.typingUntil - Date.now() + 50);
  }

  function markRead(c) {
    if (document.hidden || !c.lastSeq) return;
    send({ type: 'read', conversation: c.id, seq: c.lastSeq });
    c.unread = 0;
  }

  // An FAQ article link pasted into the message being written.
  function faqSearch(target, disabled) {
    const input = h('input', { type: 'search', placeholder: 'Search the FAQ to share an article', 'aria-label': 'Search the FAQ', disabled });
    const results = h('ul', { class: 'faq-results' });
    const run = debounce(async () => {
      const q = input.value.trim();
      if (!q) {
        replace(results);
        return;
      }
      try {
        const r = await api('GET', `/api/faq/search${qs({ q, limit: 5 })}`);
        replace(results, r.results.map((a) => h('li', {},
          h('button', { type: 'button', class: 'btn btn-small btn-quiet', title: 'Insert a link to this article', text: a.title, onclick: () => {
            const link = `${a.title} — ${new URL(a.url, location.origin).href}`;
            target.value = target.value ? `${target.value.trimEnd()}\n${link}` : link;
            target.focus();
          } }))));
      } catch {
        replace(results);
      }
    }, 250);
    input.addEventListener('input', run);
    return h('div', {}, input, results);
  }

  // --- attention ---
  function updateBadge() {
    let n = offers.size;
    for (const c of chats.values()) n += c.unread;
    setBadge(n);
  }

  function unlockAudio() {
    if (audio) return;
    try {
      audio = new AudioContext();
    } catch {
      audio = null;
    }
  }

  // beep plays a short two-tone chime with WebAudio (no audio file). A
  // browser that has not yet seen a click on the page may refuse; the
  // title badge and the offer card still show.
  function beep() {
    unlockAudio();
    if (!audio) return;
    try {
      if (audio.state === 'suspended') audio.resume().catch(() => {});
      const t = audio.currentTime;
      for (const [i, freq] of [880, 1175].entries()) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t + i * 0.15);
        gain.gain.exponentialRampToValueAtTime(0.2, t + i * 0.15 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.15 + 0.14);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + i * 0.15);
        osc.stop(t + i * 0.15 + 0.15);
      }
    } catch {
      // Sound is a courtesy.
    }
  }

  const onVisible = () => {
    if (document.hidden) return;
    const c = chats.get(current);
    if (c) {
      markRead(c);
      renderTabs();
      updateBadge();
    }
  };
  document.addEventListener('visibilitychange', onVisible);
  connect();

  return () => {
    stopped = true;
    clearTimeout(reconnectTimer);
    document.removeEventListener('visibilitychange', onVisible);
    if (ws) ws.close(1000, 'signed out');
  };
}
