// Untrusted HTML (customer email, article previews) is only ever shown in
// a sandboxed iframe: <iframe sandbox srcdoc>, with no allow-scripts and no
// allow-same-origin. Its document has an opaque origin, cannot run script
// (so <script>, onerror= and javascript: links are inert even if the
// server's sanitizer missed one), cannot reach this page or its cookies,
// and inherits this page's Content-Security-Policy on top.

import { h } from './dom.js';

const FRAME_CSP = "default-src 'none'; img-src data:; style-src 'self'; font-src 'none'; form-action 'none'";

function escapeAttr(s) {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/**
 * sandboxedFrame returns an iframe showing html. stylesheet is the URL of
 * the CSS to style it with (same origin). height is the initial height in
 * pixels.
 */
export function sandboxedFrame(html, { title, stylesheet, height = 200, className = 'msg-frame' } = {}) {
  const frame = h('iframe', { class: className, title: title || 'Message', sandbox: '', referrerpolicy: 'no-referrer', loading: 'lazy' });
  frame.style.height = `${height}px`;
  frame.srcdoc = document_(html, stylesheet);
  return frame;
}

/** setFrameHTML replaces what a frame made by sandboxedFrame shows. */
export function setFrameHTML(frame, html, stylesheet) {
  frame.srcdoc = document_(html, stylesheet);
}

function document_(html, stylesheet) {
  const css = stylesheet ? `<link rel="stylesheet" href="${escapeAttr(stylesheet)}">` : '';
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}">${css}</head><body>${html}</body></html>`;
}

/**
 * estimateHeight guesses how tall a message needs to be, since a sandboxed
 * frame's content cannot be measured from outside. The HTML is parsed with
 * DOMParser, into an inert document that runs no script and loads nothing,
 * only to count its lines of text and block elements. The frame can be
 * expanded and resized, so a guess is enough.
 */
export function estimateHeight(html, { min = 90, max = 560, perLine = 23, width = 95 } = {}) {
  let text = html || '';
  let blocks = 0;
  let images = 0;
  try {
    const doc = new DOMParser().parseFromString(html || '', 'text/html');
    blocks = doc.body.querySelectorAll('p, div, br, li, tr, h1, h2, h3, h4, blockquote, pre, hr').length;
    images = doc.body.querySelectorAll('img').length;
    text = doc.body.innerText || doc.body.textContent || '';
  } catch {
    // Fall back to the raw length.
  }
  const lines = text.split('\n').filter((l) => l.trim()).reduce((n, line) => n + Math.ceil(line.trim().length / width), 0);
  return Math.max(min, Math.min(max, (lines + blocks * 0.5) * perLine + images * 24 + 32));
}
