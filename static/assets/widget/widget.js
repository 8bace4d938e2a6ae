// The helpdesk's embeddable chat widget, served as GET /widget.js.
//
// A shop adds it with one classic script tag; everything else happens
// here. The helpdesk's address comes from this script's own src, so the
// widget works on any site the helpdesk allows (--allowed-origins). The
// launcher and the panel live in a shadow root: the shop's CSS cannot
// reach in and ours cannot leak out. Styles are a constructed stylesheet,
// which no page's style-src forbids (a <style> element is the fallback for
// browsers without adoptedStyleSheets).
//
// The chat speaks the customer protocol of docs/chat-protocol.md over
// /ws/chat. What the widget keeps, and why:
//
//   - The visitor token, the conversation id, whether a chat is under way,
//     the customer's name and email and the last seq they read, in
//     localStorage under a key named for the helpdesk's origin (a shop may
//     embed two helpdesks). A reload resumes the chat. The same entry
//     keeps the ids of ended chats the panel offered to rate after a
//     reload (from GET /api/chat/history) that were rated or dismissed, so
//     none is offered twice.
//   - lastSeq, the highest seq of a message frame shown. It is what hello
//     sends as after_seq when the socket comes back, and every seq shown is
//     remembered, so a message is never shown twice. Acks do not move
//     lastSeq: an agent's earlier message may still be on its way.
//   - Every message the customer sent until it is acknowledged, by its
//     client_id. After a reconnect they are sent again with the same
//     client_id (the server stores each once) and the echo replaces the
//     optimistic bubble instead of adding one. A message's attachments
//     are uploaded first (POST /api/chat/attachments) and travel as ids
//     with it, so a resend carries them too.
//
// The socket reconnects with exponential backoff and jitter, at once when
// the browser comes back online, and a ping every 25 s finds connections
// that died silently.
(() => {
  'use strict';

  // internal/widget fills these in when it serves the file: widget.css,
  // and the shop's name.
  const CSS = "/*@widget.css*/";
  const SITE = "/*@site*/";

  const FLAG = Symbol.for('helpdesk.widget');
  const script = document.currentScript ||
    Array.prototype.find.call(document.scripts, (s) => /\/widget\.js(?:[?#]|$)/.test(s.src));
  if (!script || !script.src || window[FLAG]) return;
  window[FLAG] = true;

  const BASE = new URL('./', script.src);
  const url = (path) => new URL(path, BASE).href;
  // link resolves a link from the server against the helpdesk, refusing
  // anything but http(s): a javascript: URL never becomes an href.
  const link = (path) => {
    const u = new URL(path, BASE);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : BASE.href;
  };
  const WS_URL = url('ws/chat').replace(/^http/, 'ws');
  const KEY = `helpdesk-chat:${BASE.origin}`;

  const PING_EVERY = 25_000;
  const PONG_WAIT = 10_000;
  const TYPING_EVERY = 2_000;
  const TYPING_SHOWN = 5_000;
  const FAQ_DELAY = 300;
  const MAX_FILE = 10 << 20;
  const MAX_FILES = 5;

  // --- storage ---

  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {
    // Storage blocked or garbled: start afresh; the chat works for this page.
  }
  function persist(patch) {
    saved = { ...saved, ...patch };
    try {
      localStorage.setItem(KEY, JSON.stringify(saved));
    } catch {
      // Storage blocked: a reload starts a new visitor, nothing worse.
    }
  }

  // --- DOM helpers ---

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) {
      if (kid != null && kid !== false) el.append(kid);
    }
    return el;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function icon(d) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    p.setAttribute('fill', 'currentColor');
    svg.append(p);
    return svg;
  }
  const ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2Zm3 6a1.3 1.3 0 1 0 0 2.6A1.3 1.3 0 0 0 7 10Zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6Zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6Z';
  const ICON_CLOSE = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4 6.4 5Z';
  const ICON_SEND = 'M3 20.5 21 12 3 3.5 3 10l12 2-12 2v6.5Z';
  const ICON_CLIP = 'M16 6v10.5a4 4 0 0 1-8 0V5.5a2.5 2.5 0 0 1 5 0V16a1 1 0 0 1-2 0V7'; // stroked, in widget.css

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; a plain-http shop page has none.
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function field(id, label, control, opt) {
    const err = h('p', { class: 'err', id: `${id}-err`, hidden: true });
    control.id = id;
    control.setAttribute('aria-describedby', err.id);
    return h('div', { class: 'field' },
      h('label', { for: id }, label, opt ? h('span', { class: 'opt', text: ' (optional)' }) : null),
      control, err);
  }
  const input = (props) => h('input', { type: 'text', ...props });
  const textarea = (props) => h('textarea', { rows: '3', ...props });

  // validate checks the fields of a form and shows each problem under its
  // field; it returns the values, or null after focusing the first problem.
  function validate(fields) {
    const out = {};
    let first = null;
    for (const [name, el, check] of fields) {
      const value = el.value.trim();
      const problem = check(value);
      const err = el.parentElement.querySelector('.err');
      err.textContent = problem || '';
      err.hidden = !problem;
      el.setAttribute('aria-invalid', String(Boolean(problem)));
      if (problem && !first) first = el;
      out[name] = value;
    }
    if (first) {
      first.focus();
      return null;
    }
    return out;
  }
  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  const needName = (v) => (!v ? 'Please tell us your name.' : v.length > 100 ? 'Please use at most 100 characters.' : '');
  const needEmail = (v) => (!v ? 'Please enter your email address.' : !EMAIL.test(v) || v.length > 254 ? 'Please enter an email address like name@example.com.' : '');
  const needText = (max) => (v) => (!v ? 'Please write your message.' : v.length > max ? `Please keep it under ${max} characters.` : '');

  // --- time and hours ---

  function validZone(tz) {
    if (!tz) return undefined;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return tz;
    } catch {
      return undefined; // unknown zone: the browser's own
    }
  }

  function zoneName(tz, at) {
    for (const style of ['shortGeneric', 'short']) {
      try {
        const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', timeZoneName: style }).formatToParts(at);
        return parts.find((p) => p.type === 'timeZoneName')?.value || '';
      } catch {
        // shortGeneric is newer than Intl itself; try short.
      }
    }
    return '';
  }

  // opensText says when next_change is, on the shop's clock:
  // "Mon 6:00 AM PT", "today 6:00 AM PT" or "tomorrow 6:00 AM PT"; nothing
  // for a change more than a year off (the server's "never changes").
  function opensText(next, tz, now) {
    const at = new Date(next);
    if (!next || Number.isNaN(at.getTime()) || at - new Date(now) > 365 * 864e5) return '';
    const zone = validZone(tz);
    const fmt = (o) => new Intl.DateTimeFormat('en-US', { timeZone: zone, ...o }).format(at);
    let day = fmt({ weekday: 'short' });
    const ref = new Date(now);
    if (!Number.isNaN(ref.getTime())) {
      const ymd = (d) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
      if (ymd(at) === ymd(ref)) day = 'today';
      else if (ymd(at) === ymd(new Date(ref.getTime() + 864e5)) && at - ref < 36 * 36e5) day = 'tomorrow';
    }
    return `${day} ${fmt({ hour: 'numeric', minute: '2-digit' })} ${zoneName(zone, at)}`.trim();
  }

  // hoursText turns the posted hours ("Mon-Fri 06:00-18:00, Sat-Sun
  // 07:00-16:00") into "Mon–Fri 6:00 AM–6:00 PM; Sat–Sun 7:00 AM–4:00 PM PT".
  function hoursText(spec, tz) {
    if (!spec) return '';
    if (/^mon-sun 00:00-24:00$/i.test(spec.trim())) return '24 hours a day, 7 days a week';
    const clock = (hh, mm) => {
      if (hh === 12 && mm === 0) return 'noon';
      if (hh % 24 === 0 && mm === 0) return 'midnight';
      return `${hh % 12 || 12}:${String(mm).padStart(2, '0')}\u00a0${hh < 12 ? 'AM' : 'PM'}`;
    };
    const groups = [];
    for (const part of spec.split(',')) {
      const m = /^\s*([a-z]{3}(?:-[a-z]{3})?)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$/i.exec(part);
      if (!m) return spec; // a format we do not know: show it as it is
      const days = m[1].replace('-', '–');
      const range = m[2] === '00' && m[3] === '00' && m[4] === '24' ? '24 hours' : `${clock(+m[2], +m[3])}–${clock(+m[4], +m[5])}`;
      const last = groups[groups.length - 1];
      if (last && last.days === days) last.ranges.push(range);
      else groups.push({ days, ranges: [range] });
    }
    return `${groups.map((g) => `${g.days} ${g.ranges.join(', ')}`).join('; ')} ${zoneName(validZone(tz), new Date())}`.trim();
  }

  const timeOf = (at) => {
    const d = new Date(at);
    return Number.isNaN(d.getTime()) ? '' : new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' }).format(d);
  };

  function waitText(seconds) {
    if (!(seconds > 0)) return '';
    if (seconds < 60) return 'less than a minute';
    const min = Math.round(seconds / 60);
    return `about ${min} minute${min === 1 ? '' : 's'}`;
  }

  // rich renders message text with web links (and the help center's
  // /kb/… paths) as links that open in a new tab. Everything is text
  // nodes and attributes, never HTML.
  function rich(text) {
    const out = document.createDocumentFragment();
    const re = /(https?:\/\/[^\s<>"]+)|(^|\s)(\/kb\/[a-z0-9-]+)/gi;
    let at = 0;
    for (let m; (m = re.exec(text));) {
      let href = m[1] || m[3];
      const start = m.index + (m[1] ? 0 : m[2].length);
      const trail = m[1] ? /[.,;:!?)\]]+$/.exec(href) : null;
      if (trail) href = href.slice(0, -trail[0].length);
      out.append(text.slice(at, start), h('a', { href: link(href), target: '_blank', rel: 'noopener noreferrer', text: href }));
      at = start + href.length;
      re.lastIndex = at;
    }
    out.append(text.slice(at));
    return out;
  }

  // --- the page's elements ---

  const host = h('helpdesk-chat');
  const root = host.attachShadow({ mode: 'open' });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.append(h('style', { text: CSS }));
  }

  const launcherDot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  const badge = h('span', { class: 'badge', hidden: true });
  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'hd-panel' },
    icon(ICON_CHAT), launcherDot,
    h('span', { class: 'launcher-label-open', text: 'Chat with us' }),
    h('span', { class: 'launcher-label-close', text: 'Close chat' }),
    badge);

  const statusDot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  const statusText = h('span', { text: 'Chat with our team' });
  const hoursLine = h('p', { class: 'hours', hidden: true });
  const announcer = h('div', { class: 'sr-only', 'aria-live': 'polite' });
  const announce = (text) => {
    announcer.textContent = '';
    setTimeout(() => { announcer.textContent = text; }, 50);
  };

  // Pre-chat form.
  const pName = input({ autocomplete: 'name', maxlength: '100' });
  const pEmail = input({ type: 'email', autocomplete: 'email', maxlength: '254' });
  const pQuestion = textarea({ maxlength: '4000' });
  const pArticles = h('div', { class: 'articles', hidden: true, 'aria-live': 'polite' });
  const pNotice = h('p', { class: 'notice', hidden: true, role: 'status' });
  const pError = h('p', { class: 'form-err', hidden: true, role: 'alert' });
  const prechat = h('form', { class: 'view', novalidate: true, 'aria-label': 'Start a chat', onsubmit: startChat },
    h('div', { class: 'scroll' },
      pNotice,
      h('p', { class: 'intro', text: 'Questions about an order, ink or your printer? Tell us a little and an agent will join you.' }),
      field('hd-name', 'Your name', pName),
      field('hd-email', 'Email', pEmail),
      field('hd-question', 'How can we help?', pQuestion),
      pArticles,
      pError,
      h('button', { type: 'submit', class: 'btn primary', text: 'Start chat' })));

  // The chat.
  const conn = h('div', { class: 'conn', role: 'status', hidden: true });
  const banner = h('div', { class: 'banner', role: 'status' });
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const cArticles = h('div', { class: 'articles', hidden: true });
  const logScroll = h('div', { class: 'scroll' }, log, cArticles);
  const typing = h('div', { class: 'typing', 'aria-hidden': 'true' });
  const message = textarea({ rows: '1', maxlength: '4000', placeholder: 'Type your message…', enterkeyhint: 'send' });
  message.id = 'hd-message';
  // Attachments: the button opens the (hidden) file picker; each file
  // chosen is uploaded at once and waits as a chip until the message goes.
  const fileInput = h('input', { type: 'file', multiple: true, hidden: true,
    accept: 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain', onchange: pickFiles });
  const attach = h('button', { type: 'button', class: 'attach', 'aria-label': 'Attach a file', onclick: () => fileInput.click() }, icon(ICON_CLIP));
  const chips = h('ul', { class: 'chips', 'aria-label': 'Attachments', hidden: true });
  const fileErr = h('p', { class: 'form-err', hidden: true, role: 'alert' });
  const composer = h('form', { class: 'composer', onsubmit: sendTyped }, fileErr, chips, fileInput, attach,
    h('label', { class: 'sr-only', for: 'hd-message', text: 'Message' }), message,
    h('button', { type: 'submit', class: 'send', 'aria-label': 'Send' }, icon(ICON_SEND)));
  const endButton = h('button', { type: 'button', class: 'link', text: 'End chat', onclick: endChat });
  const foot = h('div', { class: 'chat-foot' }, h('span', { text: 'Enter to send · Shift+Enter for a new line' }), endButton);

  // rater builds a rating form: a score from 1 to 5 and a comment, given
  // to rate(score, comment) to send. The ended chat has one, and so has
  // the card that offers to rate a chat that ended before a reload.
  function rater(id, rate) {
    const err = h('p', { class: 'form-err', hidden: true, role: 'alert' });
    const done = h('p', { class: 'done', hidden: true, role: 'status', tabindex: '-1' });
    const comment = textarea({ rows: '2', maxlength: '2000' });
    const stars = h('fieldset', { class: 'stars' }, h('legend', { text: 'How did we do? (1 = poor, 5 = great)' }),
      [1, 2, 3, 4, 5].map((n) => h('label', {}, h('input', { type: 'radio', name: 'score', value: String(n), 'aria-label': `${n} out of 5` }), String(n))));
    const submit = h('button', { type: 'submit', class: 'btn primary', text: 'Send rating' });
    const form = h('form', { novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const score = Number(form.querySelector('input[name="score"]:checked')?.value || 0);
      r.error(score ? '' : 'Please choose a score from 1 to 5.');
      if (score) rate(score, comment.value.trim());
      else stars.querySelector('input').focus();
    } }, stars, field(id, 'Anything to add?', comment, true), err, submit);
    const r = {
      form, done, submit,
      error(text) {
        err.textContent = text;
        err.hidden = !text;
      },
      thanks() {
        form.hidden = true;
        done.textContent = 'Thanks for rating this chat!';
        done.hidden = false;
        done.focus();
      },
      reset() {
        form.reset();
        form.hidden = submit.disabled = false;
        done.hidden = err.hidden = true;
      },
    };
    return r;
  }
  // The ended chat's rating names its conversation: the socket's may be
  // another by the time it is sent.
  const rating = rater('hd-comment', (score, comment) => {
    if (!send({ type: 'rating', conversation: conv.id, score, comment })) rating.error('The connection was lost, so the rating could not be sent.');
  });
  const tButton = h('button', { type: 'button', class: 'btn quiet', text: 'Email transcript', onclick: sendTranscript });
  const tDone = h('p', { class: 'done', hidden: true, role: 'status' });
  const endedHead = h('h3', { tabindex: '-1', text: 'This chat has ended' });
  const ended = h('div', { class: 'ended', hidden: true }, endedHead, rating.form, rating.done, tDone,
    h('div', { class: 'row' }, tButton, h('button', { type: 'button', class: 'btn quiet', text: 'New chat', onclick: newChat })));
  const chat = h('div', { class: 'view' }, conn, banner, logScroll, typing, composer, foot, ended);

  // The offer to rate a chat that ended before this page loaded (loadOffer):
  // a card above the idle views, in the panel only while offered.
  const offerRating = rater('hd-r-comment', rateOffered);
  const offerText = h('p', { class: 'intro' });
  const offerCard = h('section', { class: 'offer', 'aria-labelledby': 'hd-offer-title' },
    h('h3', { id: 'hd-offer-title', text: 'How was your chat with us?' }),
    h('button', { type: 'button', class: 'x', 'aria-label': 'Dismiss', title: 'Dismiss', onclick: dismissOffer }, icon(ICON_CLOSE)),
    offerText, offerRating.form, offerRating.done);

  // Leave a message.
  const oName = input({ autocomplete: 'name', maxlength: '100' });
  const oEmail = input({ type: 'email', autocomplete: 'email', maxlength: '254' });
  const oText = textarea({ rows: '5', maxlength: '10000' });
  const oNotice = h('p', { class: 'notice' });
  const oError = h('p', { class: 'form-err', hidden: true, role: 'alert' });
  const oSubmit = h('button', { type: 'submit', class: 'btn primary', text: 'Send message' });
  const offline = h('form', { class: 'view', novalidate: true, 'aria-label': 'Leave a message', onsubmit: leaveMessage },
    h('div', { class: 'scroll' },
      oNotice,
      h('p', { class: 'intro', text: 'Leave us a message and we’ll reply by email.' }),
      field('hd-o-name', 'Your name', oName),
      field('hd-o-email', 'Email', oEmail),
      field('hd-o-text', 'Message', oText),
      oError, oSubmit));

  // Message left.
  const lHead = h('h3', { tabindex: '-1', text: 'Thanks, we’ve got your message' });
  const lTicket = h('p', { class: 'ticket' });
  const lText = h('p');
  const left = h('div', { class: 'view' }, h('div', { class: 'scroll' }, lHead,
    h('p', { text: 'Your ticket number is' }), lTicket, lText,
    h('button', { type: 'button', class: 'btn quiet', text: 'Done', onclick: () => { showIdle(true); closePanel(); } })));

  const views = { prechat, chat, offline, left };
  const panel = h('section', { id: 'hd-panel', class: 'panel', role: 'dialog', 'aria-labelledby': 'hd-title', hidden: true },
    h('div', { class: 'head' },
      h('h2', { id: 'hd-title', text: `Chat with ${SITE}` }),
      h('p', { class: 'status' }, statusDot, statusText),
      hoursLine,
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close chat window', onclick: () => closePanel() }, icon(ICON_CLOSE))),
    announcer, prechat, chat, offline, left);
  root.append(launcher, panel);

  // --- state ---

  let status = null; // the last GET /api/status answer
  let mode = ''; // the view shown: prechat, chat, offline or left
  let panelOpen = false;
  let pristine = true; // the idle form has not been touched: a status change may swap it

  let ws = null; // the current socket, from open until closed
  let live = false; // the socket's hello was answered
  let wanted = false; // a socket is needed now
  let attempts = 0; // reconnects since the last welcome
  let retryTimer = 0;
  let pingTimer = 0;
  let pongTimer = 0;

  let pendingLeave = null; // leave_message frame waiting for message_left
  let pendingClose = false; // End chat pressed while offline: sent after welcome
  let pendingRate = null; // rating frame of the offer card, waiting for rated
  let offer = null; // {id} of the ended chat the card offers to rate
  let offerChecked = false; // the history was looked at for an offer
  const openedArticles = new Set(); // suggested articles opened before a conversation existed

  // conv is the conversation on screen.
  let conv;
  function resetConv() {
    conv = {
      id: 0,
      status: '',
      agent: '',
      lastSeq: 0, // highest seq of a message frame shown
      seen: new Set(), // every seq shown
      mine: new Map(), // client_id → {text, files, el, meta, acked}, in sending order
      files: [], // attachments for the next message: {name, size}, and id once uploaded
      customer: [], // [seq, meta element] of the customer's stored messages
      readSent: 0,
      agentRead: 0,
      ended: false,
      typingAt: 0,
      unread: 0,
    };
    log.replaceChildren();
    cArticles.hidden = true;
    typing.textContent = '';
    ended.hidden = true;
    composer.hidden = false;
    foot.hidden = false;
    tDone.hidden = true;
    rating.reset();
    tButton.hidden = false;
    renderFiles();
    showFileErr('');
  }
  resetConv();

  // --- status ---

  async function refreshStatus() {
    try {
      const res = await fetch(url('api/status'), { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
      status = res.ok ? await res.json() : null;
    } catch {
      status = null; // unreachable: the socket will say what it knows
    }
    renderStatus();
    if (pristine && (mode === 'prechat' || mode === 'offline')) {
      const before = mode;
      showIdle();
      if (panelOpen && mode !== before) focusView();
    }
  }

  function renderStatus() {
    let state = 'closed';
    let text = 'Chat with our team';
    if (status) {
      if (status.chat_available) {
        state = 'online';
        text = 'We’re online';
      } else if (status.open) {
        state = 'away';
        text = 'No one is free to chat right now';
      } else {
        const when = opensText(status.next_change, status.timezone, status.now);
        text = when ? `Chat opens ${when}` : 'Chat is closed';
      }
      const hours = hoursText(status.hours, status.timezone);
      hoursLine.textContent = hours ? `Support hours: ${hours}` : '';
      hoursLine.hidden = !hours;
    }
    statusDot.dataset.state = launcherDot.dataset.state = state;
    statusText.textContent = text;
    launcher.title = text;
  }

  // --- views ---

  function show(name) {
    mode = name;
    for (const [k, v] of Object.entries(views)) v.hidden = k !== name;
    renderConn();
    renderOffer();
  }

  // showIdle shows the form for someone not chatting: the pre-chat form
  // when chat is available (or unknown), else the message form.
  function showIdle(reset) {
    if (reset) {
      pristine = true;
      for (const el of [pQuestion, oText]) el.value = '';
      pArticles.hidden = true;
    }
    const available = !status || status.chat_available;
    for (const el of [pName, oName]) el.value ||= saved.name || '';
    for (const el of [pEmail, oEmail]) el.value ||= saved.email || '';
    if (available) {
      show('prechat');
    } else {
      oNotice.textContent = closedNotice(status.open ? 'no_agents' : 'outside_hours');
      show('offline');
    }
  }

  function closedNotice(reason, nextOpen) {
    if (reason === 'no_agents') return 'All our agents are busy or away right now.';
    const when = nextOpen ? opensText(nextOpen, status?.timezone, new Date().toISOString()) : status && opensText(status.next_change, status.timezone, status.now);
    return when ? `Chat is closed right now. It opens ${when}.` : 'Chat is closed right now.';
  }

  function focusView() {
    if (mode === 'chat') (conv.ended ? endedHead : message).focus();
    else if (mode === 'left') lHead.focus();
    else {
      const form = views[mode];
      (form.querySelector('[aria-invalid="true"]') || Array.from(form.querySelectorAll('input, textarea')).find((el) => !el.value) || form.querySelector('button[type="submit"]')).focus();
    }
  }

  function openPanel() {
    panelOpen = true;
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    if (!mode) showIdle();
    loadOffer();
    conv.unread = 0;
    renderBadge();
    refreshStatus();
    focusView();
    scrollLog();
    sendRead();
  }

  function closePanel() {
    panelOpen = false;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    launcher.focus();
  }

  launcher.addEventListener('click', () => (panelOpen ? closePanel() : openPanel()));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      closePanel();
    }
  });
  for (const el of [pName, pEmail, pQuestion, oName, oEmail, oText]) {
    el.addEventListener('input', () => {
      pristine = false;
      // A problem shown under a field goes once the field is edited.
      if (el.getAttribute('aria-invalid') !== 'true') return;
      el.removeAttribute('aria-invalid');
      const err = el.parentElement.querySelector('.err');
      err.hidden = true;
      err.textContent = '';
    });
  }

  function renderBadge() {
    badge.hidden = conv.unread === 0;
    badge.replaceChildren(String(conv.unread), h('span', { class: 'sr-only', text: conv.unread === 1 ? ' new message' : ' new messages' }));
  }

  function renderConn() {
    conn.hidden = mode !== 'chat' || live || !wanted;
    conn.textContent = attempts > 0 ? 'Connection lost. Reconnecting…' : 'Connecting…';
  }

  function scrollLog() {
    logScroll.scrollTop = logScroll.scrollHeight;
  }

  // --- article suggestions ---

  function renderArticles(box, heading, articles) {
    const list = (articles || []).filter((a) => a && a.slug && a.title).slice(0, 3);
    box.hidden = list.length === 0;
    box.replaceChildren(h('h3', { text: heading }), h('ul', {}, list.map((a) =>
      h('li', {}, h('a', { href: link(a.url || `kb/${a.slug}`), target: '_blank', rel: 'noopener', text: a.title, onclick: () => articleOpened(a.slug) })))));
  }

  function articleOpened(slug) {
    if (!send({ type: 'article_opened', slug })) openedArticles.add(slug);
  }

  let faqTimer = 0;
  let faqAbort = null;
  pQuestion.addEventListener('input', () => {
    clearTimeout(faqTimer);
    faqTimer = setTimeout(searchFAQ, FAQ_DELAY);
  });
  async function searchFAQ() {
    const q = pQuestion.value.trim().slice(0, 500);
    faqAbort?.abort();
    if (q.length < 3) {
      pArticles.hidden = true;
      return;
    }
    faqAbort = new AbortController();
    try {
      const res = await fetch(url(`api/faq/search?${new URLSearchParams({ q, limit: '3' })}`), { signal: faqAbort.signal, headers: { Accept: 'application/json' }, credentials: 'omit' });
      if (!res.ok) return;
      renderArticles(pArticles, 'These articles might answer it', (await res.json()).results);
    } catch {
      // Aborted by newer typing, or offline: the suggestions are a nicety.
    }
  }

  // --- the socket ---

  function connect() {
    wanted = true;
    clearTimeout(retryTimer);
    if (ws) return;
    let sock;
    try {
      sock = new WebSocket(WS_URL);
    } catch {
      retry();
      return;
    }
    ws = sock;
    renderConn();
    sock.onopen = () => {
      sock.send(JSON.stringify({ type: 'hello', visitor: saved.visitor || '', name: saved.name || '', email: saved.email || '',
        after_seq: conv.lastSeq, conversation: conv.id || saved.conversation || 0 }));
    };
    sock.onmessage = (e) => {
      if (sock !== ws) return;
      clearTimeout(pongTimer);
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return;
      }
      if (f && typeof f.type === 'string') onFrame(f);
    };
    sock.onclose = () => dropped(sock);
    sock.onerror = () => {}; // close follows
  }

  // dropped forgets a socket that closed or stopped answering, and plans
  // the next one when a socket is still wanted.
  function dropped(sock) {
    if (sock !== ws) return;
    ws = null;
    live = false;
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    sock.onclose = sock.onmessage = null;
    try {
      sock.close();
    } catch {
      // already closed
    }
    if (wanted) retry();
    renderConn();
  }

  // retry backs off exponentially, 1, 2, 4 … 30 s, each wait cut to
  // between half and all of that at random, so that a restarted server
  // is not met by every customer at the same instant.
  function retry() {
    clearTimeout(retryTimer);
    attempts++;
    const cap = Math.min(30_000, 1000 * 2 ** Math.min(attempts - 1, 5));
    retryTimer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
  }

  function disconnect() {
    wanted = false;
    clearTimeout(retryTimer);
    if (ws) dropped(ws);
  }

  function send(frame) {
    if (!ws || !live || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  addEventListener('online', () => {
    if (wanted && !ws) connect();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    if (wanted && !ws) connect();
    sendRead();
  });

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': return onWelcome(f);
      case 'message': return onMessage(f);
      case 'ack': return onAck(f);
      case 'queue':
        if (f.conversation === conv.id && !conv.agent) {
          conv.status = 'waiting';
          const wait = waitText(f.estimated_wait_seconds);
          const where = f.position === 1 ? 'You’re next in line' : `You’re number ${f.position} in line`;
          setBanner(where, wait ? ` · estimated wait ${wait}` : '');
        }
        return;
      case 'assigned':
        conv.status = 'active';
        conv.agent = f.agent?.name || 'An agent';
        cArticles.hidden = true;
        setBanner(`You’re chatting with ${conv.agent}`);
        return;
      case 'unassigned':
        // Back in the queue (sent back, or the agent lost their
        // connection): queue frames follow, then the next agent.
        if (f.conversation === conv.id && !conv.ended) {
          conv.status = 'waiting';
          conv.agent = null;
          typing.textContent = '';
          setBanner('Waiting for the next available agent');
        }
        return;
      case 'typing':
        conv.typingAt = Date.now();
        typing.textContent = `${f.author || conv.agent || 'The agent'} is typing…`;
        setTimeout(() => {
          if (Date.now() - conv.typingAt >= TYPING_SHOWN - 50) typing.textContent = '';
        }, TYPING_SHOWN);
        return;
      case 'read':
        conv.agentRead = Math.max(conv.agentRead, f.seq || 0);
        return renderReceipts();
      case 'suggestions':
        if (!conv.agent && !conv.ended) renderArticles(cArticles, 'While you wait, these might help', f.articles);
        return;
      case 'closed': return onClosed(f);
      case 'ended': return onEnded(f.by);
      case 'rated':
        if (f.conversation === pendingRate?.conversation) {
          pendingRate = null;
          remember(f.conversation);
          if (f.conversation === offer?.id) offerRating.thanks();
          if (idle()) disconnect();
        } else if (f.conversation === conv.id) {
          rating.thanks();
          scrollLog();
        }
        return;
      case 'transcript_sent':
        tButton.hidden = true;
        tDone.textContent = `We’ve emailed the transcript to ${f.email}.`;
        tDone.hidden = false;
        scrollLog();
        return;
      case 'message_left': return onLeft(f);
      case 'error': return onError(f);
      default: // pong, and frames newer than this widget
    }
  }

  function onWelcome(f) {
    live = true;
    attempts = 0;
    persist({ visitor: f.visitor });
    if (conv.id && f.conversation !== conv.id) {
      // The conversation on screen ended while we were away; hello
      // opened a new one.
      const wasChatting = mode === 'chat' && !conv.ended;
      const unsent = unsentText();
      resetConv();
      if (wasChatting) {
        persist({ active: false });
        showIdle(true);
        pQuestion.value = unsent; // not lost: it can start the next chat
        pNotice.textContent = 'Your last chat has ended.';
        pNotice.hidden = false;
      }
    }
    if (saved.conversation && saved.conversation !== f.conversation) persist({ read: 0 });
    conv.id = f.conversation;
    persist({ conversation: f.conversation });
    renderFiles(); // attaching needs the conversation's id
    if (f.status === 'waiting' || f.status === 'active') {
      persist({ active: true });
      if (mode !== 'chat') show('chat');
      if (f.status === 'waiting' && !conv.status) setBanner('Waiting for an agent…');
      conv.status = f.status;
    } else if (saved.active && conv.mine.size === 0) {
      // A reload found the chat gone (ended meanwhile): nothing to resume.
      persist({ active: false });
      if (mode === 'chat') showIdle(true);
    }
    for (const slug of openedArticles) send({ type: 'article_opened', slug });
    openedArticles.clear();
    for (const [id, m] of conv.mine) {
      if (!m.acked && !m.failed) send(messageFrame(id, m));
    }
    if (pendingLeave) send(pendingLeave);
    if (pendingClose) {
      pendingClose = false;
      send({ type: 'close' });
    }
    if (pendingRate) send(pendingRate);
    if (idle()) {
      disconnect(); // nothing to do on this socket
      return;
    }
    clearInterval(pingTimer);
    pingTimer = setInterval(ping, PING_EVERY);
    renderConn();
    sendRead();
  }

  function ping() {
    if (!send({ type: 'ping' })) return;
    const sock = ws;
    clearTimeout(pongTimer);
    pongTimer = setTimeout(() => dropped(sock), PONG_WAIT);
  }

  // setBanner says where the chat stands; the banner is a status region,
  // so screen readers announce the change.
  function setBanner(main, rest) {
    banner.replaceChildren(h('strong', { text: main }), rest || '');
  }

  // --- messages ---

  // bubble adds a message to the log in seq order. A message not stored
  // yet (seq 0: the customer's, waiting for its ack) goes last, and stored
  // messages go before it: after a reconnect the agent's missed messages
  // land above what the customer typed meanwhile, as the server stored them.
  function bubble(kind, text, who, seq) {
    const meta = h('span', { class: 'meta' });
    const el = h('div', { class: `msg ${kind}` }, who ? h('span', { class: 'who', text: who }) : null,
      h('div', { class: 'bubble' }, rich(text)), meta);
    if (seq) {
      el.dataset.seq = seq;
      log.insertBefore(el, Array.from(log.children).find((x) => !x.dataset.seq || +x.dataset.seq > seq) || null);
    } else {
      log.append(el);
    }
    scrollLog();
    return { el, meta };
  }

  function onMessage(f) {
    if (conv.id && f.conversation && f.conversation !== conv.id) return;
    if (conv.seen.has(f.seq)) return;
    conv.seen.add(f.seq);
    conv.lastSeq = Math.max(conv.lastSeq, f.seq);
    if (f.from === 'customer') {
      const mine = f.client_id && conv.mine.get(f.client_id);
      if (mine) {
        mine.acked = true;
        mine.el.dataset.seq = f.seq;
        mine.el.classList.remove('pending', 'failed');
        if (!conv.customer.some(([seq]) => seq === f.seq)) conv.customer.push([f.seq, mine.meta]);
      } else {
        const b = bubble('customer', f.text || '', '', f.seq);
        addFiles(b.el, f.attachments);
        conv.customer.push([f.seq, b.meta]);
      }
      renderReceipts();
    } else if (f.from === 'agent') {
      typing.textContent = '';
      if (!conv.agent) conv.agent = f.author || '';
      const b = bubble('agent', f.text || '', [f.author, timeOf(f.at)].filter(Boolean).join(' · '), f.seq);
      addFiles(b.el, f.attachments);
      if (!panelOpen && f.seq > (saved.read || 0)) {
        conv.unread++;
        renderBadge();
      }
    } else {
      bubble('system', f.text || '', '', f.seq);
    }
    sendRead();
  }

  function onAck(f) {
    const m = conv.mine.get(f.client_id);
    if (!m) return;
    m.acked = true;
    m.el.dataset.seq = f.seq;
    m.el.classList.remove('pending', 'failed');
    if (!conv.customer.some(([seq]) => seq === f.seq)) conv.customer.push([f.seq, m.meta]);
    renderReceipts();
  }

  // renderReceipts says under the customer's last stored message whether
  // the agent has read it: "Seen", else "Sent".
  function renderReceipts() {
    const last = conv.customer.reduce((a, b) => (b[0] > a[0] ? b : a), [0, null]);
    for (const [seq, meta] of conv.customer) meta.textContent = seq !== last[0] ? '' : seq <= conv.agentRead ? 'Seen' : 'Sent';
  }

  function addFiles(el, files) {
    if (!Array.isArray(files) || files.length === 0) return;
    el.querySelector('.bubble').append(h('div', { class: 'files' }, files.map((a) =>
      h('button', { type: 'button', class: 'file', text: a.name, onclick: () => download(a) }))));
  }

  // download fetches an attachment with the visitor token (a link cannot
  // carry the header) and saves it.
  async function download(a) {
    try {
      const res = await fetch(link(a.url), { headers: { 'X-Visitor-Token': saved.visitor || '' }, credentials: 'omit' });
      if (!res.ok) throw new Error(String(res.status));
      const href = URL.createObjectURL(await res.blob());
      const save = h('a', { href, download: a.name });
      root.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
    } catch {
      announce(`Could not download ${a.name}.`);
    }
  }

  // sendRead tells the agent what the customer has seen: everything in
  // the log, when the panel is open on a visible page.
  function sendRead() {
    if (!panelOpen || mode !== 'chat' || document.visibilityState !== 'visible') return;
    if (conv.lastSeq > conv.readSent && send({ type: 'read', seq: conv.lastSeq })) {
      conv.readSent = conv.lastSeq;
      persist({ read: conv.lastSeq });
    }
  }

  function sendText(text, files = []) {
    const id = uuid();
    const b = bubble('customer pending', text);
    addFiles(b.el, files);
    b.meta.textContent = 'Sending…';
    const m = { text, files, el: b.el, meta: b.meta, acked: false };
    conv.mine.set(id, m);
    send(messageFrame(id, m));
  }

  // messageFrame is a message of the customer's, as first sent and as
  // resent after a reconnect: the same client_id, text and attachments.
  const messageFrame = (id, m) => ({ type: 'message', client_id: id, text: m.text,
    attachments: m.files.length ? m.files.map((a) => a.id) : undefined });

  // unsentText is what the customer wrote that the server has not stored.
  const unsentText = () => [...conv.mine.values()].filter((m) => !m.acked && m.text).map((m) => m.text).join('\n\n');

  function sendTyped(e) {
    e.preventDefault();
    const text = message.value.trim();
    const { files } = conv;
    if ((!text && !files.length) || conv.ended) return;
    if (text.length > 4000) {
      announce('Messages are limited to 4000 characters.');
      return;
    }
    if (files.some((a) => !a.id)) {
      showFileErr('Please wait until your files have uploaded.');
      return;
    }
    message.value = '';
    grow();
    conv.files = [];
    renderFiles();
    showFileErr('');
    sendText(text, files);
    message.focus();
  }

  // --- attachments ---

  const sizeText = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${Math.round(n / 1024)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);

  function showFileErr(text) {
    fileErr.textContent = text;
    fileErr.hidden = !text;
  }

  // renderFiles shows the attachments waiting to be sent, and enables the
  // attach button while the conversation takes messages and has room.
  function renderFiles() {
    const { files } = conv;
    attach.disabled = !conv.id || conv.ended || files.length >= MAX_FILES;
    chips.hidden = !files.length;
    chips.replaceChildren(...files.map((a) => h('li', { class: a.id ? 'chip' : 'chip busy' },
      h('span', { class: 'name', text: a.name }), h('span', { class: 'size', text: a.id ? sizeText(a.size) : 'Uploading…' }),
      h('button', { type: 'button', 'aria-label': `Remove ${a.name}`, onclick: () => removeFile(a) }, icon(ICON_CLOSE)))));
  }

  function removeFile(a) {
    conv.files = conv.files.filter((x) => x !== a);
    renderFiles();
    message.focus();
  }

  function pickFiles() {
    const picked = Array.from(fileInput.files);
    fileInput.value = ''; // the same file may be picked again
    showFileErr('');
    for (const file of picked) {
      if (conv.files.length >= MAX_FILES) return showFileErr(`You can attach up to ${MAX_FILES} files to a message.`);
      if (file.size > MAX_FILE) showFileErr(`${file.name} is too large: files are limited to 10 MB.`);
      else upload(file);
    }
  }

  // upload posts a file to the conversation; the answer's id goes with
  // the next message. A refusal shows the server's reason.
  async function upload(file) {
    const c = conv;
    const a = { name: file.name, size: file.size };
    c.files.push(a);
    renderFiles();
    let problem = 'The file could not be uploaded. Please try again.';
    try {
      const body = new FormData();
      body.append('conversation', String(c.id));
      body.append('file', file);
      const res = await fetch(url('api/chat/attachments'), { method: 'POST', body, headers: { 'X-Visitor-Token': saved.visitor || '' }, credentials: 'omit' });
      const got = await res.json().catch(() => ({}));
      if (res.ok && got.id) {
        Object.assign(a, got);
        problem = '';
        announce(`${a.name} attached.`);
      } else if (typeof got.error === 'string') {
        problem = `${file.name}: ${got.error}`;
      }
    } catch {
      // offline: the message above
    }
    if (c !== conv || !c.files.includes(a)) return; // removed, or another conversation
    if (problem) {
      c.files = c.files.filter((x) => x !== a);
      showFileErr(problem);
    }
    renderFiles();
  }

  let typingSent = 0;
  function grow() {
    // CSSOM, which a style-src policy allows (unlike a style attribute).
    message.style.height = 'auto';
    message.style.height = `${Math.min(message.scrollHeight + 2, 120)}px`;
  }
  message.addEventListener('input', () => {
    grow();
    const text = message.value.trim();
    if (!text || Date.now() - typingSent < TYPING_EVERY) return;
    // Before an agent joins, the text finds FAQ suggestions; it is never
    // shown to the agent, so once one has joined it is not sent.
    if (send(conv.agent ? { type: 'typing' } : { type: 'typing', text: text.slice(0, 500) })) typingSent = Date.now();
  });
  message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });

  // --- starting, ending, rating ---

  function startChat(e) {
    e.preventDefault();
    pError.hidden = true;
    const v = validate([['name', pName, needName], ['email', pEmail, needEmail], ['text', pQuestion, needText(4000)]]);
    if (!v) return;
    // hello carries the name and email, so a socket said hello with other
    // ones starts over; the visitor token keeps it the same conversation.
    const reconnect = ws && (v.name !== saved.name || v.email !== saved.email);
    persist({ name: v.name, email: v.email, active: true });
    offer = null; // a new chat: the next one to rate is this one
    pNotice.hidden = true;
    pArticles.hidden = true;
    if (conv.ended) resetConv();
    show('chat');
    setBanner('Connecting you to an agent…');
    sendText(v.text);
    pQuestion.value = '';
    pristine = true;
    if (reconnect) {
      wanted = false; // a deliberate close, not a drop to recover from
      dropped(ws);
      attempts = 0;
    }
    connect();
    message.focus();
  }

  function endChat() {
    if (send({ type: 'close' })) return;
    pendingClose = true;
    announce('You’re offline. The chat will end once you’re back online.');
  }

  function onEnded(by) {
    if (conv.ended) return;
    conv.ended = true;
    persist({ active: false });
    wanted = false; // a new hello would open a new conversation: rate this one on this socket
    typing.textContent = '';
    cArticles.hidden = true;
    composer.hidden = true;
    foot.hidden = true;
    renderFiles();
    ended.hidden = false;
    endedHead.textContent = by === 'customer' ? 'You ended the chat' : by === 'agent' ? `${conv.agent || 'The agent'} ended the chat` : 'This chat has ended';
    setBanner('Chat ended');
    scrollLog();
    if (panelOpen && mode === 'chat') endedHead.focus();
  }

  function sendTranscript() {
    if (!send({ type: 'transcript', conversation: conv.id, email: saved.email || '' })) {
      tDone.textContent = 'The connection was lost, so we could not send the transcript.';
      tDone.hidden = false;
    }
  }

  function newChat() {
    disconnect();
    resetConv();
    persist({ active: false, conversation: 0, read: 0 });
    showIdle(true);
    focusView();
  }

  // idle says nothing needs the socket.
  const idle = () => !saved.active && !pendingLeave && !pendingRate && conv.mine.size === 0;

  // --- rating a chat that ended before this page loaded ---

  // loadOffer looks once a page, when the panel first opens, whether the
  // visitor's last chat was with an agent, ended less than a day ago and
  // was never rated; if so the panel offers to rate it. A chat rated or
  // dismissed here is remembered (saved.asked) and not offered again.
  async function loadOffer() {
    if (offerChecked || !saved.visitor || saved.active) return;
    offerChecked = true;
    let c;
    try {
      const res = await fetch(url('api/chat/history'), { headers: { 'X-Visitor-Token': saved.visitor, Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
      if (!res.ok) return;
      // Newest first; an open conversation without messages is only a hello's.
      c = ((await res.json()).conversations || []).find((x) => x.status !== 'open' || x.messages?.length);
    } catch {
      return; // offline: the offer is a nicety
    }
    if (!c || c.status !== 'closed' || !c.agent_joined || c.rating || asked().includes(c.id) ||
      !(Date.now() - Date.parse(c.closed_at) < 864e5) || !idle() || mode === 'chat') return;
    const agent = c.messages?.findLast((m) => m.from === 'agent')?.author;
    offer = { id: c.id };
    offerRating.reset();
    offerText.textContent = `Your chat with ${agent || 'our team'} has ended. Tell us how it went.`;
    renderOffer();
  }

  const asked = () => (Array.isArray(saved.asked) ? saved.asked : []);
  const remember = (id) => persist({ asked: [...asked().filter((x) => x !== id), id].slice(-20) });

  // renderOffer puts the card above the idle views while a chat is
  // offered for rating; never during a chat.
  function renderOffer() {
    if (!offer || mode === 'chat') offerCard.remove();
    else if (!offerCard.isConnected) prechat.before(offerCard); // moving it would lose focus
  }

  // rateOffered sends the card's rating on a socket of its own when there
  // is none; hello opens a new conversation, so the frame names the one
  // rated.
  function rateOffered(score, comment) {
    pendingRate = { type: 'rating', conversation: offer.id, score, comment };
    offerRating.submit.disabled = true;
    if (!send(pendingRate)) connect();
  }

  function offerFailed(text) {
    pendingRate = null;
    offerRating.submit.disabled = false;
    offerRating.error(text);
  }

  function dismissOffer() {
    remember(offer.id);
    offer = null;
    renderOffer();
    focusView();
  }

  // --- chat not available, leaving a message ---

  // onClosed handles chat becoming unavailable before the conversation
  // started (a refused first message, or a resumed chat not yet queued):
  // what the customer wrote moves to the message form.
  function onClosed(f) {
    if (pendingLeave || pendingRate || conv.status === 'waiting' || conv.status === 'active') return;
    if (mode !== 'chat' && mode !== 'prechat') return;
    const unsent = unsentText();
    persist({ active: false });
    disconnect();
    resetConv();
    refreshStatus();
    showIdle();
    oNotice.textContent = closedNotice(f.reason, f.next_open);
    show('offline');
    if (unsent && !oText.value) oText.value = unsent;
    pristine = false;
    if (panelOpen) focusView();
  }

  function leaveMessage(e) {
    e.preventDefault();
    oError.hidden = true;
    const v = validate([['name', oName, needName], ['email', oEmail, needEmail], ['text', oText, needText(10000)]]);
    if (!v || pendingLeave) return;
    persist({ name: v.name, email: v.email });
    pendingLeave = { type: 'leave_message', client_id: uuid(), name: v.name, email: v.email, text: v.text };
    oSubmit.disabled = true;
    oSubmit.textContent = 'Sending…';
    if (!send(pendingLeave)) connect();
  }

  function onLeft(f) {
    if (!pendingLeave) return;
    const { name, email } = pendingLeave;
    pendingLeave = null;
    oSubmit.disabled = false;
    oSubmit.textContent = 'Send message';
    oText.value = '';
    if (idle()) disconnect();
    lTicket.textContent = `#${f.ticket_id}`;
    lText.textContent = `We’ll reply to ${email} by email, ${name.split(/\s+/)[0]}. Please keep the ticket number handy.`;
    show('left');
    lHead.focus();
  }

  function onError(f) {
    if (f.ref === 'message' && f.client_id) {
      const m = conv.mine.get(f.client_id);
      if (!m) return;
      if (f.code === 'rate_limited' || f.code === 'internal') {
        // Safe to resend: the client_id makes a second store impossible.
        setTimeout(() => {
          if (!m.acked) send(messageFrame(f.client_id, m));
        }, 1500);
        return;
      }
      if (f.code === 'chat_unavailable') return; // the closed frame follows
      m.failed = true;
      m.el.dataset.seq = conv.lastSeq + 0.5; // stays where it is
      m.el.classList.add('failed');
      m.el.classList.remove('pending');
      m.meta.textContent = `Not sent: ${f.message || f.code}`;
      if (f.code === 'conversation_closed') onEnded('system');
      return;
    }
    if (f.ref === 'leave_message' && pendingLeave) {
      pendingLeave = null;
      oSubmit.disabled = false;
      oSubmit.textContent = 'Send message';
      oError.textContent = f.message || 'Your message could not be sent. Please try again.';
      oError.hidden = false;
      return;
    }
    if (f.ref === 'hello') {
      // hello refused (say, a name the server will not take): back to the
      // form with the reason and the question, and no socket.
      const unsent = unsentText();
      if (pendingRate) offerFailed(f.message || 'The rating could not be sent.');
      disconnect();
      persist({ active: false });
      resetConv();
      showIdle();
      if (mode === 'prechat') pQuestion.value ||= unsent;
      const err = mode === 'prechat' ? pError : oError;
      err.textContent = f.message || 'Chat could not start. Please try again.';
      err.hidden = false;
      return;
    }
    if (f.ref === 'rating') {
      const text = f.message || 'The rating could not be saved.';
      if (!pendingRate) return rating.error(text);
      offerFailed(text);
      if (idle()) disconnect();
      return;
    }
    if (f.ref === 'transcript') {
      tDone.textContent = f.message || 'The transcript could not be sent.';
      tDone.hidden = false;
    }
  }

  // --- start ---

  function start() {
    document.body.append(host);
    renderStatus();
    refreshStatus();
    if (saved.active && saved.visitor) {
      // A chat was under way before this page loaded: resume it.
      show('chat');
      setBanner('Reconnecting to your chat…');
      connect();
    }
  }
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
