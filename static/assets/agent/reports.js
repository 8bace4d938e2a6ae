// The reports page at /agent/reports: how support is doing over a range
// of days, at a glance — stat tiles for volumes, medians and 90th
// percentiles, a bar chart of tickets per day by queue, chats per day and
// the rating histogram, and the same numbers as a CSV download.

import { api, qs } from './api.js';
import { h, replace, field, select, plural } from './dom.js';
import { stackedBars, hbars } from './charts.js';
import { start } from './shell.js';

start(async (app) => {
  const today = isoDay(new Date());
  const params = new URLSearchParams(location.search);
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') || isoDay(addDays(new Date(), -29)), max: today, required: true });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') || today, max: today, required: true });
  const queue = select([['', 'All queues']], { name: 'queue' });
  const csv = h('a', { class: 'btn', href: '#', download: '', text: 'Download CSV', dataset: { csv: '' } });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const out = h('div', { 'aria-live': 'polite', 'aria-busy': 'false' });
  const quick = (days, label) => h('button', { type: 'button', class: 'btn btn-small', text: label, onclick: () => {
    from.value = isoDay(addDays(new Date(), -(days - 1)));
    to.value = today;
    load();
  } });
  const form = h('form', { class: 'report-filters', 'aria-label': 'Report range' },
    field('From', from), field('To', to), field('Queue', queue),
    h('button', { type: 'submit', class: 'btn btn-primary', text: 'Show' }),
    quick(7, 'Last 7 days'), quick(30, 'Last 30 days'), quick(90, 'Last 90 days'),
    csv);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });
  queue.addEventListener('change', () => load());
  replace(app, h('div', { class: 'report-head' }, h('h1', { text: 'Reports' })), form, err, out);

  let seq = 0;
  async function load() {
    const mine = ++seq;
    const q = { from: from.value, to: to.value, queue: queue.value };
    csv.href = `/api/reports/summary.csv${qs(q)}`;
    history.replaceState(null, '', `${location.pathname}${qs(q)}`);
    err.textContent = '';
    out.setAttribute('aria-busy', 'true');
    try {
      const s = await api('GET', `/api/reports/summary${qs(q)}`);
      if (mine !== seq) return;
      fillQueues(queue, s.queues, q.queue);
      render(out, s);
    } catch (e) {
      if (mine === seq) {
        // A stale report under a new range would mislead: show none.
        replace(out);
        err.textContent = `This report cannot be shown: ${e.message}.`;
      }
    } finally {
      out.setAttribute('aria-busy', 'false');
    }
  }
  await load();
  return null;
});

function fillQueues(sel, queues, current) {
  const want = ['', ...queues];
  const have = [...sel.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  replace(sel, h('option', { value: '', text: 'All queues' }), queues.map((q) => h('option', { value: q, text: q })));
  sel.value = current;
}

function render(out, s) {
  const t = s.tickets;
  const tiles = [
    tile('Tickets created', String(t.created), `${s.from} – ${s.to}${s.queue ? ` · ${s.queue}` : ''}`),
    tile('First response · median', minutes(t.first_response_minutes.median), `p90 ${minutes(t.first_response_minutes.p90)} · ${plural(t.first_response_minutes.count, 'ticket')}`),
    tile('Resolution · median', minutes(t.resolution_minutes.median), `p90 ${minutes(t.resolution_minutes.p90)} · ${plural(t.resolution_minutes.count, 'ticket')}`),
    tile('SLA breaches', String(t.sla.breached), `${pct(t.sla.breach_rate)} of ${t.sla.with_target - t.sla.pending} due · ${t.sla.breached_late} late, ${t.sla.breached_unanswered} unanswered`,
      t.sla.breached > 0 ? 'tile-bad' : 'tile-good'),
  ];
  const c = s.chat;
  if (c) {
    tiles.push(
      tile('Chats', String(c.conversations), `${c.abandoned} abandoned`),
      tile('Chat wait · median', seconds(c.wait_seconds.median), `p90 ${seconds(c.wait_seconds.p90)} · ${plural(c.wait_seconds.count, 'chat')}`),
      tile('Chat rating', c.ratings.count ? `${c.ratings.average.toFixed(2)} / 5` : '—', plural(c.ratings.count, 'rating')),
      tile('Deflected by articles', pct(c.deflection_rate), `${c.deflected} of ${c.conversations} chats`));
  }
  const queues = Object.keys(t.by_queue).sort((a, b) => t.by_queue[b] - t.by_queue[a]);
  const volume = stackedBars(t.per_day.map((d) => ({ date: d.date, values: d.by_queue })), queues.length ? queues : ['tickets'],
    { title: 'Tickets created per day', unit: 'tickets' });
  const main = [h('section', { class: 'card chart-card' }, h('h2', { text: 'Tickets created per day' }), volume)];
  if (c) {
    main.push(h('section', { class: 'card chart-card' }, h('h2', { text: 'Chats per day' }),
      stackedBars(c.per_day.map((d) => ({ date: d.date, values: { chats: d.count } })), ['chats'], { title: 'Chats per day', unit: 'chats', height: 200 })));
  }
  const side = [h('section', { class: 'card chart-card' }, h('h2', { text: 'First-response SLA' }),
    hbars([
      { label: 'Met', value: t.sla.met },
      { label: 'Late', value: t.sla.breached_late },
      { label: 'Missed', value: t.sla.breached_unanswered },
      { label: 'Not due', value: t.sla.pending },
    ], { title: 'First-response SLA outcomes', cls: 's-0' }))];
  if (c) {
    side.push(h('section', { class: 'card chart-card' }, h('h2', { text: 'Chat ratings' }),
      hbars([5, 4, 3, 2, 1].map((n) => ({ label: `${n} ★`, value: c.ratings.distribution[n - 1] })), { title: 'Chat ratings' })));
  }
  const rows = [h('div', { class: 'charts' }, h('div', { class: 'panel' }, main), h('div', { class: 'panel' }, side))];
  replace(out,
    h('div', { class: 'tiles' }, tiles),
    rows,
    h('p', { class: 'hint', text: `Days in ${s.timezone}. Times are wall-clock, from the ticket's creation. Medians and 90th percentiles are exact.` }));
}

function tile(label, value, sub, cls = '') {
  return h('div', { class: ['tile', cls] },
    h('p', { class: 'tile-label', text: label }),
    h('p', { class: 'tile-value', text: value }),
    sub ? h('p', { class: 'tile-sub', text: sub }) : null);
}

function minutes(m) {
  if (m === null || m === undefined) return '—';
  if (m < 1) return `${Math.round(m * 60)} s`;
  if (m < 60) return `${Math.round(m)} min`;
  if (m < 60 * 48) return `${(m / 60).toFixed(1)} h`;
  return `${(m / 1440).toFixed(1)} d`;
}

function seconds(s) {
  if (s === null || s === undefined) return '—';
  if (s < 90) return `${Math.round(s)} s`;
  return minutes(s / 60);
}

function pct(x) {
  return `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;
}

function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function addDays(d, n) {
  const x = new Date(d);
  x.setDate(x.getDate() + n);
  return x;
}
