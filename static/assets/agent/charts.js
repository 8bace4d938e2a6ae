// Hand-drawn SVG charts for the reports page: no library, no inline style
// (colours come from classes in agent.css, so the page's CSP holds). Each
// chart is a <figure> with a text summary for screen readers and the
// numbers behind it in a table under "Show data".

import { h, svg } from './dom.js';

const W = 720;
const PAD = { top: 12, right: 12, bottom: 42, left: 40 };

/** niceMax rounds a maximum up to a round number and gives a tick step. */
function niceScale(max, ticks = 4) {
  if (max <= 0) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw && (s >= 1 || mag < 1)) || 10 * mag;
  const s = Math.max(1, step);
  return { top: Math.ceil(max / s) * s, step: s };
}

function shortDate(iso) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

function dataTable(caption, head, rows) {
  return h('details', { class: 'data-table' },
    h('summary', { text: 'Show data' }),
    h('table', { class: 'data' },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row', text: c } : { class: 'num', text: c })))))));
}

/**
 * stackedBars draws one bar per day, stacked by series.
 * days: [{date: 'YYYY-MM-DD', values: {series: n}}]; series: names in
 * stacking order (colours s-0… by index).
 */
export function stackedBars(days, series, { title, unit = 'tickets', height = 240 } = {}) {
  const totals = days.map((d) => series.reduce((n, s) => n + (d.values[s] || 0), 0));
  const max = Math.max(0, ...totals);
  const { top, step } = niceScale(max);
  const innerW = W - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const slot = innerW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(36, slot * 0.7));
  const y = (v) => PAD.top + innerH - (v / top) * innerH;
  const g = svg('g');

  for (let v = 0; v <= top; v += step) {
    g.append(svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', text: String(v) }));
  }
  const every = Math.ceil(days.length / 12);
  days.forEach((d, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let acc = 0;
    series.forEach((s, si) => {
      const v = d.values[s] || 0;
      if (!v) return;
      const y0 = y(acc);
      const y1 = y(acc + v);
      acc += v;
      g.append(svg('rect', { class: `bar s-${si % 8}`, x, y: y1, width: barW, height: Math.max(0.5, y0 - y1), rx: 2 },
        svg('title', { text: `${shortDate(d.date)}: ${v} ${unit}${series.length > 1 ? ` (${s})` : ''}` })));
    });
    if (i % every === 0) {
      g.append(svg('text', { x: x + barW / 2, y: height - PAD.bottom + 16, 'text-anchor': 'middle', text: shortDate(d.date) }));
    }
  });
  g.append(svg('line', { class: 'axis-line', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), stroke: '#9ca3af' }));

  const total = totals.reduce((a, b) => a + b, 0);
  const busiest = totals.indexOf(max);
  const summary = days.length
    ? `${title}: ${total} ${unit} over ${days.length} days${max > 0 ? `, most on ${shortDate(days[busiest].date)} (${max})` : ''}.`
    : `${title}: no data.`;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': summary }, g);
  return h('figure', { class: 'chart', dataset: { chart: title } },
    total === 0 ? h('p', { class: 'chart-empty', text: `No ${unit} in this range.` }) : null,
    chart,
    series.length > 1 ? h('ul', { class: 'legend' }, series.map((s, i) => h('li', {}, h('span', { class: `swatch sw-${i % 8}`, 'aria-hidden': 'true' }), s))) : null,
    h('figcaption', { class: 'visually-hidden', text: summary }),
    dataTable(title, ['Day', ...(series.length > 1 ? series : []), 'Total'],
      days.map((d, i) => [d.date, ...(series.length > 1 ? series.map((s) => String(d.values[s] || 0)) : []), String(totals[i])])));
}

/**
 * hbars draws horizontal bars, one per item: [{label, value}]. cls is the
 * fill class.
 */
export function hbars(items, { title, unit = '', cls = 's-rating' } = {}) {
  const VW = 300;
  const rowH = 30;
  const height = items.length * rowH + 8;
  const labelW = 64;
  const max = Math.max(1, ...items.map((i) => i.value));
  const innerW = VW - labelW - 40;
  const g = svg('g');
  items.forEach((it, i) => {
    const y = 4 + i * rowH;
    const w = (it.value / max) * innerW;
    g.append(
      svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', text: it.label }),
      svg('rect', { class: `hbar ${cls}`, x: labelW, y: y + 4, width: Math.max(it.value ? 2 : 0, w), height: rowH - 10, rx: 3 },
        svg('title', { text: `${it.label}: ${it.value}${unit}` })),
      svg('text', { x: labelW + w + 6, y: y + rowH / 2 + 4, text: String(it.value) }));
  });
  const summary = `${title}: ${items.map((i) => `${i.label} ${i.value}`).join(', ')}.`;
  return h('figure', { class: 'chart', dataset: { chart: title } },
    items.every((i) => !i.value) ? h('p', { class: 'chart-empty', text: 'Nothing in this range yet.' }) : null,
    svg('svg', { viewBox: `0 0 ${VW} ${height}`, role: 'img', 'aria-label': summary }, g),
    h('figcaption', { class: 'visually-hidden', text: summary }),
    dataTable(title, ['', 'Count'], items.map((i) => [i.label, String(i.value)])));
}
