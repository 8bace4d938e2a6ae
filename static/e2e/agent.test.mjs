// Browser tests of the agent side — console, admin and reports — in
// Debian's Chromium driven by playwright-core. Run against a running
// helpdesk that has an admin and an agent, inbound SMTP and the inbound
// webhook (cmd/helpdesk/browser_test.go sets all of this up):
//
//   HELPDESK_URL=http://127.0.0.1:8090 HELPDESK_DATA=./data \
//   HELPDESK_SMTP_ADDR=127.0.0.1:2525 HELPDESK_INBOUND_TOKEN=… \
//   HELPDESK_ADMIN_EMAIL=… HELPDESK_ADMIN_PASSWORD=… \
//   HELPDESK_AGENT_EMAIL=… HELPDESK_AGENT_PASSWORD=… npm test
//
// Every step saves a screenshot to ./screenshots (or $SCREENSHOT_DIR) named
// agent-NN-….png. Uncaught page errors, dialogs and unexpected console
// errors fail the test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const env = process.env;
const BASE = (env.HELPDESK_URL || '').replace(/\/+$/, '');
const SHOTS = env.SCREENSHOT_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const DATA = env.HELPDESK_DATA || '';
const ADMIN = { email: env.HELPDESK_ADMIN_EMAIL, password: env.HELPDESK_ADMIN_PASSWORD, name: 'Ada Admin' };
const AGENT = { email: env.HELPDESK_AGENT_EMAIL, password: env.HELPDESK_AGENT_PASSWORD, name: 'Tess Agent' };
const TIMEOUT = 10_000;
const POLL_WAIT = 20_000; // the console polls every 10 s
const RUN = Date.now().toString(36); // keeps subjects unique when the suite runs twice against one server

let browser;

before(async () => {
  assert.ok(BASE, 'set HELPDESK_URL to the address of a running helpdesk');
  for (const [k, v] of Object.entries({ HELPDESK_DATA: DATA, HELPDESK_SMTP_ADDR: env.HELPDESK_SMTP_ADDR, HELPDESK_INBOUND_TOKEN: env.HELPDESK_INBOUND_TOKEN,
    HELPDESK_ADMIN_EMAIL: ADMIN.email, HELPDESK_ADMIN_PASSWORD: ADMIN.password, HELPDESK_AGENT_EMAIL: AGENT.email, HELPDESK_AGENT_PASSWORD: AGENT.password })) {
    assert.ok(v, `set ${k} (cmd/helpdesk/browser_test.go does)`);
  }
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
});

// Console errors a test expects: the sign-in check answers 401 before
// anyone signs in (and for a wrong password), and images in customer email
// are blocked by the Content-Security-Policy by design.
const EXPECTED_CONSOLE = [
  /status of 401 \(Unauthorized\)/,
  /Loading the image '[^']*' violates the following Content Security Policy directive/,
];

/**
 * newPage opens a page in a fresh context. problems collects uncaught
 * errors (of the page and every frame in it, including out-of-process
 * frames), dialogs (alert, confirm, prompt — none is ever expected), and
 * console errors not in EXPECTED_CONSOLE.
 */
async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  const onDialog = (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  };
  page.on('dialog', onDialog);
  context.on('dialog', (d) => dialogs.push(`context ${d.type()}: ${d.message()}`));
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  context.on('weberror', (err) => problems.push(`web error: ${err.error().message}`));
  const allowed = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (EXPECTED_CONSOLE.some((re) => re.test(msg.text()))) return;
    const where = msg.location()?.url ?? '';
    if (allowed.some((a) => a.url.test(where) && msg.text().includes(`status of ${a.status}`))) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
  // allow(urlPattern, status) accepts an error answer a test provokes on purpose.
  const allow = (url, status) => allowed.push({ url, status });
  // Playwright reports the dialogs and uncaught errors of every frame of a
  // page on the page, out-of-process (sandboxed) frames included; the
  // context-level events above catch anything on other pages.
  return { context, page, problems, dialogs, allow };
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SHOTS, `agent-${name}.png`), fullPage });
}

function assertClean({ problems, dialogs }) {
  assert.deepEqual(dialogs, [], 'a dialog was opened');
  assert.deepEqual(problems, [], 'the page logged errors');
}

async function signIn(page, who, url = '/agent') {
  await page.goto(`${BASE}${url}`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-who-name]').filter({ hasText: who.name }).waitFor();
}

// --- outside the browser: mail in, API, outbox ---

/** sendSMTP speaks just enough SMTP to deliver one message. */
function sendSMTP(addr, from, to, message) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const steps = [
      [null, 220],
      ['EHLO e2e.example', 250],
      [`MAIL FROM:<${from}>`, 250],
      [`RCPT TO:<${to}>`, 250],
      ['DATA', 354],
      [`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.`, 250],
      ['QUIT', 221],
    ];
    let buf = '';
    let i = 0;
    sock.setEncoding('utf8');
    sock.setTimeout(TIMEOUT, () => sock.destroy(new Error('SMTP timeout')));
    sock.on('error', reject);
    sock.on('data', (chunk) => {
      buf += chunk;
      // A reply is complete at a line "NNN text" (no dash after the code).
      const lines = buf.split('\r\n');
      const last = lines.findLast((l) => /^\d{3} /.test(l));
      if (!last) return;
      buf = '';
      const code = Number(last.slice(0, 3));
      if (code !== steps[i][1]) {
        sock.destroy();
        reject(new Error(`SMTP step ${i}: got "${last}", want ${steps[i][1]}`));
        return;
      }
      i += 1;
      if (i === steps.length) {
        sock.end();
        resolve();
        return;
      }
      sock.write(`${steps[i][0]}\r\n`);
    });
  });
}

/** apiSession signs in with fetch and calls the API like the pages do. */
async function apiSession(who) {
  const res = await fetch(`${BASE}/api/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: who.email, password: who.password }),
  });
  assert.equal(res.status, 200, 'API sign-in');
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf } = await res.json();
  return async (method, p, body) => {
    const r = await fetch(`${BASE}${p}`, {
      method,
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
}

async function inbound(raw) {
  const res = await fetch(`${BASE}/api/inbound/email`, {
    method: 'POST', headers: { Authorization: `Bearer ${env.HELPDESK_INBOUND_TOKEN}` }, body: raw.replace(/\r?\n/g, '\r\n'),
  });
  assert.equal(res.status, 202, 'inbound webhook');
  return (await res.json()).ticket_id;
}

/** waitFor polls fn until it returns something truthy. */
async function waitFor(what, fn, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** outboxWith returns the first .eml in the outbox for which match(text) holds. */
async function outboxWith(match) {
  const dir = path.join(DATA, 'outbox');
  let names = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml'));
  } catch {
    return null;
  }
  for (const n of names) {
    const text = await readFile(path.join(dir, n), 'utf8');
    if (match(decodeQP(text))) return text;
  }
  return null;
}

/** decodeQP undoes quoted-printable soft line breaks and escapes (good enough for ASCII bodies). */
function decodeQP(s) {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

function header(eml, name) {
  const head = eml.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(head);
  return m ? m[1].trim() : '';
}

// --- the console ---

test('an agent works a ticket from email to reply', async (t) => {
  const p = await newPage();
  const { page } = p;
  const subject = `Cartridge leaking ink ${RUN}`;
  const messageID = `leak-${RUN}@customer.example`;
  let ticketRow;
  try {
    await t.test('signing in with a wrong password is refused, then the agent signs in', async () => {
      const res = await page.goto(`${BASE}/agent`);
      assert.equal(res.status(), 200);
      const csp = res.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await shot(page, '01-signin');
      await page.getByLabel('Email').fill(AGENT.email);
      await page.getByLabel('Password').fill('not the password at all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('[data-signin-error]').filter({ hasText: 'do not match' }).waitFor();
      await shot(page, '02-signin-refused');
      await page.getByLabel('Password').fill(AGENT.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('[data-who-name]').filter({ hasText: AGENT.name }).waitFor();
      await page.getByRole('list', { name: 'Tickets' }).waitFor();
      await shot(page, '03-queue');
    });

    await t.test('an email sent over SMTP appears in the live queue', async () => {
      await sendSMTP(env.HELPDESK_SMTP_ADDR, 'carla@customer.example', 'support@example.com', [
        'From: Carla Customer <carla@customer.example>',
        'To: support@example.com',
        `Subject: ${subject}`,
        `Message-ID: <${messageID}>`,
        'Date: Thu, 26 Nov 2026 09:00:00 -0800',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Hello, my new magenta cartridge is leaking all over the printer.',
        'Order 4411. Can you help?',
      ].join('\n'));
      // No reload: the console's poll brings it in.
      ticketRow = page.locator('.ticket-row').filter({ hasText: subject });
      await ticketRow.waitFor({ timeout: POLL_WAIT });
      assert.match(await ticketRow.innerText(), /new/i);
      assert.match(await ticketRow.innerText(), /Customer Service/);
      await shot(page, '04-email-in-queue');
    });

    let ticketID;
    await t.test('the agent opens it and sees the thread', async () => {
      await ticketRow.getByRole('link').click();
      const h1 = page.getByRole('heading', { level: 1 }).filter({ hasText: subject });
      await h1.waitFor();
      ticketID = Number(/#(\d+)/.exec(await h1.innerText())[1]);
      assert.ok(ticketID > 0);
      assert.equal(new URL(page.url()).hash, `#/tickets/${ticketID}`);
      await page.locator('.msg-inbound').filter({ hasText: 'leaking all over the printer' }).waitFor();
      // The customer sidebar loads: this requester has no other tickets yet.
      await page.locator('.customer-history').getByRole('heading', { name: 'Customer history' }).waitFor();
      await shot(page, '05-ticket-open');
    });

    await t.test('assigns it to themself and tags it', async () => {
      await page.getByLabel('Assignee', { exact: true }).last().selectOption({ label: `${AGENT.name} (me)` });
      await page.locator('.toast').filter({ hasText: `Assigned to ${AGENT.name}` }).waitFor();
      await page.getByLabel('Tags (comma separated)').fill('leak, Magenta');
      await page.getByRole('button', { name: 'Save tags' }).click();
      await page.locator('.toast').filter({ hasText: 'Tags saved' }).waitFor();
      assert.equal(await page.getByLabel('Tags (comma separated)').inputValue(), 'leak, magenta');
      await page.getByLabel('Priority').selectOption('high');
      await page.locator('.toast').filter({ hasText: 'Priority set to high' }).waitFor();
      await shot(page, '06-assigned-tagged');
    });

    await t.test('another agent opening the ticket shows up as viewing', async () => {
      const other = await newPage();
      try {
        await signIn(other.page, ADMIN, `/agent#/tickets/${ticketID}`);
        await other.page.getByRole('heading', { level: 1 }).filter({ hasText: subject }).waitFor();
        // The agent's console learns of it at its next heartbeat (10 s).
        await page.locator('.viewers').filter({ hasText: `${ADMIN.name} is viewing` }).waitFor({ timeout: POLL_WAIT });
        await shot(page, '07-collision');
        assertClean(other);
      } finally {
        await other.context.close();
      }
    });

    await t.test('an internal note stays internal', async () => {
      await page.getByRole('radiogroup', { name: 'Answer as' }).getByText('Internal note').click();
      await page.getByLabel('Internal note (only agents see it)').fill(`Checked order 4411 (${RUN}): magenta XL, shipped Monday.`);
      await page.getByRole('button', { name: 'Add note' }).click();
      await page.locator('.msg-note').filter({ hasText: 'Checked order 4411' }).waitFor();
      await shot(page, '08-note');
    });

    await t.test('the agent replies with a canned response and the email leaves through the outbox', async () => {
      const api = await apiSession(AGENT);
      const created = await api('POST', '/api/canned', { title: `Leaking cartridge ${RUN}`, body: 'Hello {{customer_name}},\n\nsorry about the leaking cartridge (request #{{ticket_id}}). ' });
      assert.equal(created.status, 201);
      await page.reload();
      await page.getByRole('heading', { level: 1 }).filter({ hasText: subject }).waitFor();
      await page.getByRole('radiogroup', { name: 'Answer as' }).getByText('Reply').click();
      const box = page.getByLabel(/^Reply to /);
      await page.getByLabel('Insert a canned response').selectOption({ label: `Leaking cartridge ${RUN}` });
      await waitFor('the canned text', async () => (await box.inputValue()).includes('sorry about the leaking cartridge'));
      const canned = await box.inputValue();
      assert.match(canned, /Hello Carla Customer,/);
      assert.match(canned, new RegExp(`request #${ticketID}`));
      await box.press('End');
      await box.pressSequentially(`A replacement is on its way, tracking follows. (${RUN})`);
      await shot(page, '09-reply-drafted');
      await page.getByRole('button', { name: 'Send reply' }).click();
      await page.locator('.msg-outbound').filter({ hasText: 'A replacement is on its way' }).waitFor();
      await page.locator('.ticket-head .badge-pending').waitFor();
      await shot(page, '10-reply-sent');

      const eml = await waitFor('the reply in the outbox', () => outboxWith((s) => s.includes(`A replacement is on its way, tracking follows. (${RUN})`)), 20_000);
      assert.equal(header(eml, 'In-Reply-To'), `<${messageID}>`);
      assert.match(header(eml, 'Subject'), new RegExp(`\\[#${ticketID}\\]`));
      assert.match(header(eml, 'To'), /carla@customer\.example/);
      assert.match(header(eml, 'From'), /support@example\.com/);
    });
    assertClean(p);
  } finally {
    await p.context.close();
  }
});

test('a hostile email is shown without running anything', async (t) => {
  const p = await newPage();
  const { page } = p;
  const subject = `Invoice <script>alert(1)</script> ${RUN}`;
  try {
    const id = await inbound([
      'From: "Mal <img src=x onerror=alert(1)>" <mallory@evil.example>',
      'To: corporate@example.com',
      `Subject: ${subject}`,
      `Message-ID: <hostile-${RUN}@evil.example>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Please see the invoice.',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Please see the <b>invoice</b>.</p>',
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '<a href="javascript:alert(1)">open invoice</a>',
      '<svg onload=alert(1)><circle r=5></circle></svg>',
      '<iframe src="javascript:alert(1)"></iframe>',
      '<form action="javascript:alert(1)"><button>pay</button></form>',
      '--b--',
      '',
    ].join('\n'));
    assert.ok(id > 0);

    await t.test('the ticket opens with the payloads as inert text', async () => {
      await signIn(page, AGENT, `/agent#/tickets/${id}`);
      const h1 = page.locator('.ticket-head h1');
      await h1.filter({ hasText: 'Invoice' }).waitFor();
      assert.match(await h1.innerText(), /<script>alert\(1\)<\/script>/, 'the subject is shown as text');
      const frameEl = page.locator('.msg-inbound iframe.msg-frame');
      await frameEl.waitFor();
      // Sandboxed: no allow-scripts, no allow-same-origin, nothing else either.
      assert.equal(await frameEl.getAttribute('sandbox'), '');
      const frame = page.frameLocator('.msg-inbound iframe.msg-frame');
      await frame.getByText('invoice').first().waitFor();
      assert.equal(await frame.locator('script').count(), 0);
      assert.equal(await frame.locator('[onerror], [onload]').count(), 0);
      // Clicking the link and the button does nothing.
      await frame.getByText('open invoice').click();
      if (await frame.getByRole('button', { name: 'pay' }).count()) await frame.getByRole('button', { name: 'pay' }).click();
      await page.waitForTimeout(1500);
      await shot(page, '11-hostile-email');
    });

    await t.test('the plain-text view shows the text version', async () => {
      await page.getByRole('button', { name: 'Show plain text' }).click();
      await page.locator('.msg-inbound pre.msg-text').filter({ hasText: 'Please see the invoice.' }).waitFor();
      await shot(page, '12-hostile-plain');
    });

    // The top document was never touched by the payloads either.
    assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([src])').length), 0);
    assertClean(p);
  } finally {
    await p.context.close();
  }
});

// --- admin ---

test('an admin manages agents, the knowledge base and support hours', async (t) => {
  const p = await newPage();
  const { page } = p;
  const slug = `toner-recycling-${RUN}`;
  const title = `Recycling empty toner ${RUN}`;
  try {
    await t.test('an agent who is not an admin sees "admins only"', async () => {
      const q = await newPage();
      try {
        await signIn(q.page, AGENT, '/agent/admin');
        await q.page.getByRole('heading', { name: 'Admins only' }).waitFor();
        await shot(q.page, '13-admins-only');
        assertClean(q);
      } finally {
        await q.context.close();
      }
    });

    await t.test('the admin adds an agent', async () => {
      await signIn(page, ADMIN, '/agent/admin#agents');
      await page.getByRole('tab', { name: 'Agents' }).waitFor();
      const form = page.getByRole('form', { name: 'Add an agent' });
      await form.getByLabel('Name').fill(`Nina New ${RUN}`);
      await form.getByLabel('Email').fill(`nina-${RUN}@shop.example`);
      await form.getByLabel('Password').fill('cyan cartridges for everyone 9');
      await form.getByRole('button', { name: 'Add agent' }).click();
      await page.locator('tr').filter({ hasText: `nina-${RUN}@shop.example` }).waitFor();
      await shot(page, '14-agent-added');
    });

    await t.test('the admin writes a draft article with a live preview', async () => {
      await page.getByRole('tab', { name: 'Knowledge base' }).click();
      await page.getByRole('button', { name: 'New article' }).click();
      await page.getByLabel('Slug (address)').fill(slug);
      await page.getByLabel('Title', { exact: true }).fill(title);
      await page.getByLabel('Category').fill('Returns & Refunds');
      await page.getByLabel('Tags (comma separated)').fill('recycling, toner');
      await page.getByLabel('Published (visible in the help center and search)').uncheck();
      await page.getByLabel('Body (Markdown)').fill('Send empty toner back **for free**.\n\n## How\n\n1. Pack it\n2. Print the label\n\n<script>alert(1)</script>');
      const preview = page.frameLocator('[data-preview]');
      await preview.locator('strong').filter({ hasText: 'for free' }).waitFor();
      await preview.getByRole('heading', { name: 'How' }).waitFor();
      assert.equal(await preview.locator('script').count(), 0, 'the preview is sanitized');
      await shot(page, '15-article-preview');
      await page.getByRole('button', { name: 'Create article' }).click();
      await page.locator('.toast').filter({ hasText: 'Article created' }).waitFor();
      await page.locator('#kb-edit-title .badge-draft').waitFor();
      const draft = await fetch(`${BASE}/kb/${slug}`);
      assert.equal(draft.status, 404, 'a draft is not in the help center');
    });

    await t.test('the admin edits it and publishes it', async () => {
      await page.getByLabel('Body (Markdown)').fill('Send empty toner back **for free**, and get a 5% coupon.\n\n## How\n\n1. Pack it\n2. Print the label');
      await page.frameLocator('[data-preview]').getByText('5% coupon').waitFor();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.locator('.toast').filter({ hasText: 'Article saved' }).waitFor();
      await page.getByRole('button', { name: 'Publish', exact: true }).click();
      await page.locator('.toast').filter({ hasText: 'Article published' }).waitFor();
      await page.locator('#kb-edit-title .badge-published').waitFor();
      await shot(page, '16-article-published');
      const pub = await fetch(`${BASE}/kb/${slug}`);
      assert.equal(pub.status, 200);
      assert.match(await pub.text(), /5% coupon/);
    });

    await t.test('deleting asks first', async () => {
      await page.getByRole('button', { name: 'Delete' }).click();
      const dlg = page.getByRole('dialog');
      await dlg.waitFor();
      await shot(page, '17-delete-confirm', false);
      await dlg.getByRole('button', { name: 'Cancel' }).click();
      await dlg.waitFor({ state: 'detached' });
      assert.equal((await fetch(`${BASE}/kb/${slug}`)).status, 200, 'cancel keeps the article');
    });

    await t.test('the admin sets a holiday and it is in force at once', async () => {
      // A date within the schedule's look-ahead, so that the running
      // schedule's next change is the holiday (support is open 24/7).
      const day = new Date(Date.now() + 200 * 86400_000).toISOString().slice(0, 10);
      const extra = new Date(Date.now() + 201 * 86400_000).toISOString().slice(0, 10);
      await page.getByRole('tab', { name: 'Support hours' }).click();
      await page.getByLabel('Weekly hours').waitFor();
      assert.equal(await page.getByLabel('Weekly hours').inputValue(), 'Mon-Sun 00:00-24:00');
      await page.getByLabel('Date').fill(day);
      await page.getByRole('button', { name: 'Add holiday' }).click();
      await page.getByLabel('Date').fill(extra);
      await page.getByRole('button', { name: 'Add holiday' }).click();
      await page.getByRole('list', { name: 'Holidays' }).getByText(extra).waitFor();
      await page.getByRole('button', { name: `Remove holiday ${extra}` }).click();
      await page.getByRole('button', { name: 'Save hours' }).click();
      await page.locator('.toast').filter({ hasText: 'Support hours saved' }).waitFor();
      await page.locator('[data-source="saved"]').filter({ hasText: /^Saved / }).waitFor();
      await shot(page, '18-holidays-saved');
      const api = await apiSession(ADMIN);
      const hours = await api('GET', '/api/admin/hours');
      assert.ok(hours.body.holidays.includes(day) && !hours.body.holidays.includes(extra), `holidays ${hours.body.holidays}`);
      assert.equal(hours.body.source, 'saved');
      const status = await (await fetch(`${BASE}/api/status`)).json();
      assert.ok(status.next_change.startsWith(`${day}T00:00:00`), `the running schedule closes on the holiday: next_change ${status.next_change}`);
    });

    await t.test('a malformed value is refused with the reason', async () => {
      p.allow(/\/api\/admin\/hours$/, 400);
      await page.getByLabel('Weekly hours').fill('Mon-Fry 09:00-17:00');
      await page.getByRole('button', { name: 'Save hours' }).click();
      await page.locator('.hours-form .form-error').filter({ hasText: 'unknown day "Fry"' }).waitFor();
      await shot(page, '19-hours-invalid');
    });

    await t.test('the audit log lists the changes', async () => {
      await page.getByRole('tab', { name: 'Audit log' }).click();
      await page.locator('td code').filter({ hasText: 'settings.hours_changed' }).first().waitFor();
      await page.locator('td code').filter({ hasText: 'agent_added' }).first().waitFor();
      await shot(page, '20-audit');
    });
    assertClean(p);
  } finally {
    await p.context.close();
  }
});

// --- reports ---

test('reports show charts with data and download as CSV', async (t) => {
  const p = await newPage();
  const { page } = p;
  try {
    await t.test('the reports page draws the tiles and charts', async () => {
      await signIn(page, AGENT, '/agent/reports');
      await page.getByRole('heading', { name: 'Reports' }).waitFor();
      const created = page.locator('.tile').filter({ hasText: 'Tickets created' }).locator('.tile-value');
      await created.waitFor();
      assert.ok(Number(await created.innerText()) >= 2, 'the tickets of this run are counted');
      const chart = page.locator('figure[data-chart="Tickets created per day"]');
      assert.ok((await chart.locator('rect.bar').count()) >= 1, 'the volume chart has bars');
      assert.match(await chart.locator('svg').getAttribute('aria-label'), /tickets over 30 days/);
      await page.locator('.tile').filter({ hasText: 'First response · median' }).locator('.tile-value').filter({ hasNotText: '—' }).waitFor();
      await shot(page, '21-reports');
    });

    await t.test('a queue filter narrows the report', async () => {
      await page.getByLabel('Queue').selectOption('Corporate Sales');
      await page.locator('.tile').filter({ hasText: 'Corporate Sales' }).first().waitFor();
      assert.match(page.url(), /queue=Corporate\+Sales/);
      await shot(page, '22-reports-queue');
    });

    await t.test('the CSV downloads', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download CSV' }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^report-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
      const text = await readFile(await download.path(), 'utf8');
      const lines = text.trim().split(/\r?\n/);
      assert.equal(lines[0], 'section,date,queue,metric,value');
      assert.ok(lines.some((l) => /^tickets,,Corporate Sales,created,[1-9]/.test(l)), 'per-queue totals are in the CSV');
      assert.ok(lines.some((l) => l.startsWith('tickets,,Corporate Sales,sla_breach_rate,')));
      await shot(page, '23-reports-csv-downloaded');
    });

    await t.test('a range that is too long is explained', async () => {
      p.allow(/\/api\/reports\/summary\?/, 400);
      await page.getByLabel('From').fill('2020-01-01');
      await page.getByRole('button', { name: 'Show', exact: true }).click();
      await page.locator('.form-error').filter({ hasText: 'at most 366' }).waitFor();
      await shot(page, '24-reports-bad-range');
    });
    assertClean(p);
  } finally {
    await p.context.close();
  }
});

// --- live chat ---

test('an agent takes a live chat', async (t) => {
  // The panel is there only when the server routes the agent websocket,
  // and the socket only accepts pages served from the public URL.
  const shell = await (await fetch(`${BASE}/agent`)).text();
  if (!shell.includes('data-chat="on"')) {
    t.skip('live chat is not wired into this server (no data-chat on /agent)');
    return;
  }
  const p = await newPage();
  const { page } = p;
  const customer = await browser.newContext();
  try {
    await t.test('the agent is online in the chats panel', async () => {
      await signIn(page, AGENT);
      const pane = page.getByRole('region', { name: 'Live chats' });
      await pane.locator('.dot-online').waitFor();
      assert.equal(await pane.getByLabel('Chat availability').inputValue(), 'online');
      await shot(page, '25-chat-online');
    });

    const cpage = await customer.newPage();
    await cpage.goto(`${BASE}/healthz`);
    await t.test('a customer asks; the offer arrives with a title badge', async () => {
      await cpage.evaluate((text) => new Promise((resolve, reject) => {
        const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat`);
        window.chat = { ws, frames: [] };
        ws.onerror = () => reject(new Error('customer socket failed'));
        ws.onmessage = (e) => {
          const f = JSON.parse(e.data);
          window.chat.frames.push(f);
          if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'message', client_id: 'c1', text }));
          if (f.type === 'ack') resolve();
        };
        ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', visitor: '', name: 'Carla Chat', email: 'carla.chat@customer.example' }));
      }), `My cartridge is not recognised (${RUN})`);
      const offer = page.locator('.offer').filter({ hasText: 'Carla Chat wants to chat' });
      await offer.waitFor({ timeout: POLL_WAIT });
      assert.match(await page.title(), /^\(\d+\) /, 'the title counts the offer');
      await shot(page, '26-chat-offer');
      await offer.getByRole('button', { name: 'Accept' }).click();
      await page.locator('.chat-line.from-customer').filter({ hasText: 'not recognised' }).waitFor();
    });

    await t.test('typing, replying and sharing an FAQ article reach the customer', async () => {
      await cpage.evaluate(() => window.chat.ws.send(JSON.stringify({ type: 'typing' })));
      await page.locator('.chat-typing').filter({ hasText: 'Carla Chat is typing' }).waitFor();
      const box = page.getByRole('textbox', { name: 'Message' });
      await box.fill('Hello Carla, let us fix that.');
      await box.press('Enter');
      await page.locator('.chat-line.from-agent').filter({ hasText: 'let us fix that' }).waitFor();
      await page.getByLabel('Search the FAQ').fill('cartridge');
      await page.locator('.faq-results button').first().click();
      assert.match(await box.inputValue(), /\/kb\/[a-z0-9-]+/);
      await box.press('Enter');
      await page.locator('.chat-line.from-agent').filter({ hasText: '/kb/' }).waitFor();
      await shot(page, '27-chat-active');
      const texts = await waitFor('the agent\'s messages at the customer', async () => {
        const got = await cpage.evaluate(() => window.chat.frames.filter((f) => f.type === 'message' && f.from === 'agent').map((f) => f.text));
        return got.length >= 2 ? got : null;
      });
      assert.equal(texts[0], 'Hello Carla, let us fix that.');
      assert.match(texts[1], /\/kb\//);
    });

    await t.test('ending the chat tells the customer', async () => {
      await page.getByRole('button', { name: 'End chat' }).click();
      await page.getByRole('button', { name: 'Close tab' }).waitFor();
      await waitFor('the customer to see the end', () => cpage.evaluate(() => window.chat.frames.some((f) => f.type === 'ended')));
      await shot(page, '28-chat-ended');
    });
    assertClean(p);
  } finally {
    await customer.close();
    await p.context.close();
  }
});
