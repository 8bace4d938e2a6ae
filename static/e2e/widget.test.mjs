// Browser tests of the embeddable chat widget (GET /widget.js) on the demo
// shop (GET /demo), in Debian's Chromium driven by playwright-core. Run
// against a running helpdesk with an admin and an agent and an API token
// for each (cmd/helpdesk/browser_test.go sets all of this up):
//
//   HELPDESK_URL=http://127.0.0.1:8090 HELPDESK_DATA=./data \
//   HELPDESK_AGENT_EMAIL=… HELPDESK_AGENT_PASSWORD=… \
//   HELPDESK_AGENT_TOKEN=… HELPDESK_ADMIN_TOKEN=… \
//   HELPDESK_SHOP_ADDR=127.0.0.1:8091 npm test
//
// With HELPDESK_SHOP_ADDR, the suite also serves a shop page of its own
// there, another origin that the helpdesk must allow (--allowed-origins),
// and chats from it.
//
// The customer uses the widget in the browser. The agent is driven over
// the raw agent websocket, from a page of the helpdesk's own origin
// signed in with the agent's session, so every frame is under the test's
// control (the agent suite covers the console's chat panel). The
// customer's socket runs through page.routeWebSocket, which lets the test
// cut it like a network drop would.
//
// Every step saves a screenshot to ./screenshots (or $SCREENSHOT_DIR)
// named widget-NN-….png. Uncaught page errors and console errors fail
// the test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const env = process.env;
const BASE = (env.HELPDESK_URL || '').replace(/\/+$/, '');
const SHOTS = env.SCREENSHOT_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const DATA = env.HELPDESK_DATA || '';
const AGENT = { email: env.HELPDESK_AGENT_EMAIL, password: env.HELPDESK_AGENT_PASSWORD, name: 'Tess Agent', token: env.HELPDESK_AGENT_TOKEN };
const ADMIN_TOKEN = env.HELPDESK_ADMIN_TOKEN;
const SHOP_ADDR = env.HELPDESK_SHOP_ADDR || ''; // host:port for a shop of another origin; the server must allow it
const TIMEOUT = 10_000;
const RUN = Date.now().toString(36); // keeps names unique when the suite runs twice against one server

let browser;

before(async () => {
  assert.ok(BASE, 'set HELPDESK_URL to the address of a running helpdesk');
  for (const [k, v] of Object.entries({ HELPDESK_AGENT_EMAIL: AGENT.email, HELPDESK_AGENT_PASSWORD: AGENT.password,
    HELPDESK_AGENT_TOKEN: AGENT.token, HELPDESK_ADMIN_TOKEN: ADMIN_TOKEN })) {
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

// --- helpers ---

/**
 * customerPage opens /demo in a fresh context. Its chat sockets go through
 * a route the test controls: net.drop() cuts the current one, and while
 * net.down is set new ones are refused, as on a dead network. net.hellos
 * collects every hello the widget sent, net.sent every frame.
 */
async function customerPage(viewport = { width: 1280, height: 800 }) {
  // Reduced motion: the panel's opening animation would move it under
  // measurements and screenshots.
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location()?.url ?? ''})`);
  });
  context.on('weberror', (err) => problems.push(`web error: ${err.error().message}`));

  const net = { down: false, sockets: [], hellos: [], sent: [] };
  await page.routeWebSocket(/\/ws\/chat$/, (ws) => {
    if (net.down) {
      ws.close({ code: 4000, reason: 'network down (test)' });
      return;
    }
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      try {
        const f = JSON.parse(m);
        net.sent.push(f);
        if (f.type === 'hello') net.hellos.push(f);
      } catch {
        // not JSON: forwarded as it is
      }
      server.send(m);
    });
    net.sockets.push(ws);
  });
  net.drop = async () => {
    net.down = true;
    await net.sockets.at(-1)?.close({ code: 4001, reason: 'dropped (test)' });
  };
  const widget = page.locator('helpdesk-chat');
  return { context, page, problems, net, widget };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `widget-${name}.png`) });
}

/** waitFor polls fn until it returns something truthy. */
async function waitFor(what, fn, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** api calls the JSON API with a bearer token. */
async function api(token, method, p, body) {
  const res = await fetch(`${BASE}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * agentSocket signs the agent in and opens the agent websocket from a page
 * of the helpdesk's own origin (the socket accepts no other). The agent is
 * online while it is open.
 */
async function agentSocket() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE}/healthz`);
  const res = await context.request.post(`${BASE}/api/auth/login`, { data: { email: AGENT.email, password: AGENT.password } });
  assert.equal(res.status(), 200, 'agent sign-in');
  await page.evaluate(() => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/agent`);
    window.agent = { ws, frames: [] };
    ws.onerror = () => reject(new Error('agent socket failed'));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      window.agent.frames.push(f);
      if (f.type === 'welcome') resolve();
    };
  }));
  const frames = () => page.evaluate(() => window.agent.frames);
  return {
    context,
    send: (f) => page.evaluate((frame) => window.agent.ws.send(JSON.stringify(frame)), f),
    frames,
    waitFrame: (what, pred, ms) => waitFor(what, async () => (await frames()).find(pred), ms),
    close: () => context.close(),
  };
}

/** shadowFocus names the element focused inside the widget's shadow root. */
function shadowFocus(page) {
  return page.evaluate(() => {
    const el = document.querySelector('helpdesk-chat')?.shadowRoot?.activeElement;
    return el ? `${el.tagName.toLowerCase()}.${el.className}${el.id ? `#${el.id}` : ''}` : '';
  });
}

/** outboxWith returns the first .eml in the outbox for which match(text) holds. */
async function outboxWith(match) {
  let names = [];
  try {
    names = (await readdir(path.join(DATA, 'outbox'))).filter((n) => n.endsWith('.eml'));
  } catch {
    return null;
  }
  for (const n of names) {
    const text = await readFile(path.join(DATA, 'outbox', n), 'utf8');
    if (match(text.replace(/=\r?\n/g, ''))) return text;
  }
  return null;
}

// --- the tests ---

test('a customer chats with an agent through the widget on the demo shop', async (t) => {
  const customer = { name: `Carla Widget ${RUN}`, email: `carla.${RUN}@customer.example` };
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, net, widget } = c;
  const panel = widget.getByRole('dialog', { name: /^Chat with / });
  const launcher = widget.getByRole('button', { name: /^(Chat with us|Close chat)$/ });
  let convID = 0;
  try {
    await t.test('the demo shop embeds the widget with one script tag under a strict CSP', async () => {
      const res = await page.goto(`${BASE}/demo`);
      assert.equal(res.status(), 200);
      const csp = res.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /style-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(await page.locator('script').count(), 1);
      assert.equal(await page.locator('script').getAttribute('src'), '/widget.js');
      await launcher.waitFor();
      // The shop's CSS styles every button in uppercase; the shadow root
      // keeps the launcher out of its reach.
      assert.equal(await launcher.evaluate((el) => getComputedStyle(el).textTransform), 'none');
      await waitFor('the launcher to show chat is online', () => widget.locator('.launcher .dot[data-state="online"]').count());
      await shot(page, '01-demo-shop');
    });

    await t.test('the panel says chat is open and shows the posted hours', async () => {
      await launcher.click();
      await panel.waitFor();
      assert.equal(await launcher.getAttribute('aria-expanded'), 'true');
      await panel.getByText('We’re online').waitFor();
      await panel.getByText(/^Support hours: /).waitFor();
      assert.equal(await shadowFocus(page), 'input.#hd-name', 'focus moves to the first field');
      await shot(page, '02-panel-open');
    });

    await t.test('the pre-chat form explains what is missing', async () => {
      await panel.getByRole('textbox', { name: 'Email' }).fill('not-an-address');
      await panel.getByRole('button', { name: 'Start chat' }).click();
      await panel.getByText('Please tell us your name.').waitFor();
      await panel.getByText('Please enter an email address like name@example.com.').waitFor();
      await panel.getByText('Please write your message.').waitFor();
      assert.equal(await panel.getByRole('textbox', { name: 'Your name' }).getAttribute('aria-invalid'), 'true');
      assert.equal(await shadowFocus(page), 'input.#hd-name', 'focus moves to the first problem');
      await shot(page, '03-prechat-invalid');
    });

    await t.test('FAQ articles are suggested while the customer types the question', async () => {
      await panel.getByRole('textbox', { name: 'Your name' }).fill(customer.name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(customer.email);
      await panel.getByRole('textbox', { name: 'How can we help?' }).pressSequentially('my printer does not recognise the new ink cartridge', { delay: 5 });
      const box = panel.locator('.articles').filter({ hasText: 'These articles might answer it' });
      await box.waitFor();
      const links = box.getByRole('link');
      assert.ok((await links.count()) >= 1 && (await links.count()) <= 3, 'one to three suggestions');
      assert.match(await links.first().getAttribute('href'), new RegExp(`^${BASE}/kb/[a-z0-9-]+$`));
      assert.equal(await links.first().getAttribute('target'), '_blank');
      assert.equal(await panel.getByText('Please tell us your name.').count(), 0, 'a field\'s problem goes once it is edited');
      assert.equal(await panel.getByRole('textbox', { name: 'Email' }).getAttribute('aria-invalid'), null);
      await shot(page, '04-prechat-suggestions');
    });

    await t.test('starting the chat queues it and the agent is offered it', async () => {
      await panel.getByRole('button', { name: 'Start chat' }).click();
      const mine = panel.locator('.msg.customer').filter({ hasText: 'does not recognise the new ink cartridge' });
      await mine.waitFor();
      await mine.locator('.meta').filter({ hasText: 'Sent' }).waitFor();
      await panel.getByRole('status').filter({ hasText: /You’re (next|number \d+) in line/ }).waitFor();
      assert.equal(await shadowFocus(page), 'textarea.#hd-message');
      const offer = await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.customer?.name === customer.name, 40_000);
      convID = offer.conversation;
      assert.match(offer.preview, /does not recognise/);
      // While waiting, the server suggests articles for the question.
      await panel.locator('.articles').filter({ hasText: 'While you wait' }).waitFor();
      await shot(page, '05-waiting');
    });

    await t.test('opening a suggested article opens it in a new tab and is recorded', async () => {
      const link = panel.locator('.articles').filter({ hasText: 'While you wait' }).getByRole('link').first();
      const [tab] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
      await tab.waitForLoadState();
      assert.match(tab.url(), /\/kb\/[a-z0-9-]+$/);
      await tab.close();
      await waitFor('article_opened to be stored', async () => (await api(AGENT.token, 'GET', `/api/chat/conversations/${convID}`)).body?.article_opened);
    });

    await t.test('the agent accepts and replies; the customer sees typing, then the reply', async () => {
      await agent.send({ type: 'accept', conversation: convID });
      await panel.getByRole('status').filter({ hasText: `You’re chatting with ${AGENT.name}` }).waitFor();
      await panel.locator('.msg.system').filter({ hasText: `${AGENT.name} joined the chat` }).waitFor();
      assert.equal(await panel.locator('.articles').filter({ hasText: 'While you wait' }).isVisible(), false, 'suggestions go once an agent joins');
      await agent.send({ type: 'typing', conversation: convID });
      await panel.getByText(`${AGENT.name} is typing…`).waitFor();
      await shot(page, '06-agent-typing');
      await agent.send({ type: 'message', conversation: convID, client_id: `a1-${RUN}`, text: 'Hi Carla! Which printer model is it? See https://example.com/printers.' });
      const reply = panel.locator('.msg.agent').filter({ hasText: 'Which printer model is it?' });
      await reply.waitFor();
      assert.equal(await panel.getByText(`${AGENT.name} is typing…`).count(), 0, 'the indicator goes with the message');
      assert.equal(await reply.getByRole('link').getAttribute('href'), 'https://example.com/printers', 'links are linked, without the full stop');
      assert.match(await reply.locator('.who').innerText(), new RegExp(`^${AGENT.name} · `));
      // The panel is open on a visible page: the agent learns it was read.
      const msg = await agent.waitFrame('the stored reply', (f) => f.type === 'message' && f.client_id === `a1-${RUN}`);
      await agent.waitFrame('the read receipt', (f) => f.type === 'read' && f.conversation === convID && f.seq >= msg.seq);
    });

    await t.test('the customer types and answers; the agent sees typing and reads it', async () => {
      const box = panel.getByRole('textbox', { name: 'Message' });
      await box.pressSequentially('It is an Envy 6255', { delay: 20 });
      await agent.waitFrame('the customer typing', (f) => f.type === 'typing' && f.from === 'customer' && f.conversation === convID);
      await box.press('Enter');
      const got = await agent.waitFrame('the answer', (f) => f.type === 'message' && f.from === 'customer' && f.text === 'It is an Envy 6255');
      assert.equal(await box.inputValue(), '', 'the box is emptied');
      await agent.send({ type: 'read', conversation: convID, seq: got.seq });
      await panel.locator('.msg.customer').filter({ hasText: 'It is an Envy 6255' }).locator('.meta').filter({ hasText: 'Seen' }).waitFor();
      await shot(page, '07-conversation');
    });

    await t.test('after a network drop the widget resumes without losing or repeating a message', async () => {
      const hellosBefore = net.hellos.length;
      await net.drop();
      await panel.getByText('Connection lost. Reconnecting…').waitFor();
      // While the customer is cut off, the agent writes and the customer
      // sends one more message, which waits unacknowledged.
      await agent.send({ type: 'message', conversation: convID, client_id: `a2-${RUN}`, text: `A replacement ships today (${RUN}).` });
      await agent.waitFrame('the agent\'s ack', (f) => f.type === 'ack' && f.client_id === `a2-${RUN}`);
      const box = panel.getByRole('textbox', { name: 'Message' });
      await box.fill('Thank you, are you still there?');
      await box.press('Enter');
      await panel.locator('.msg.customer.pending').filter({ hasText: 'still there' }).locator('.meta').filter({ hasText: 'Sending…' }).waitFor();
      await shot(page, '08-connection-lost');
      // The network comes back; the browser says so.
      net.down = false;
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      const hello = await waitFor('a new hello', () => net.hellos.length > hellosBefore && net.hellos.at(-1));
      assert.ok(hello.after_seq > 0, `hello resumes after the last seq seen, got after_seq ${hello.after_seq}`);
      assert.equal(hello.conversation, convID);
      const missed = panel.locator('.msg.agent').filter({ hasText: `A replacement ships today (${RUN}).` });
      await missed.waitFor();
      await panel.locator('.msg.customer').filter({ hasText: 'still there' }).locator('.meta').filter({ hasText: /^(Sent|Seen)$/ }).waitFor();
      await panel.getByText('Connection lost. Reconnecting…').waitFor({ state: 'hidden' });
      // Give any duplicate a moment to show up, then count.
      await page.waitForTimeout(500);
      assert.equal(await missed.count(), 1, 'the missed message is shown once');
      assert.equal(await panel.locator('.msg.customer').filter({ hasText: 'still there' }).count(), 1, 'the resent message is shown once');
      assert.equal(await panel.locator('.msg.agent').filter({ hasText: 'Which printer model is it?' }).count(), 1, 'earlier messages are not repeated');
      // The log is in the order the server stored the messages: the
      // agent's, written first, above the one the customer sent later.
      assert.deepEqual(await panel.locator('.msg:not(.system) .bubble').allInnerTexts(), [
        'my printer does not recognise the new ink cartridge',
        'Hi Carla! Which printer model is it? See https://example.com/printers.',
        'It is an Envy 6255',
        `A replacement ships today (${RUN}).`,
        'Thank you, are you still there?',
      ]);
      const atAgent = (await agent.frames()).filter((f) => f.type === 'message' && f.text === 'Thank you, are you still there?');
      assert.equal(atAgent.length, 1, 'the agent got the resent message once');
      await shot(page, '09-reconnected');
    });

    await t.test('a reload resumes the chat with its history, each message once', async () => {
      const visitor = net.hellos.at(-1).visitor;
      assert.ok(visitor, 'the widget keeps its visitor token');
      const hellosBefore = net.hellos.length;
      await page.reload();
      const hello = await waitFor('the hello after the reload', () => net.hellos.length > hellosBefore && net.hellos.at(-1));
      assert.equal(hello.visitor, visitor, 'the token comes from localStorage');
      assert.equal(hello.after_seq, 0, 'a new page has seen nothing yet');
      assert.equal(await widget.locator('.badge').isVisible(), false, 'what was read before the reload is not new');
      await launcher.click();
      await panel.locator('.msg.agent').filter({ hasText: `A replacement ships today (${RUN}).` }).waitFor();
      await panel.getByRole('status').filter({ hasText: `You’re chatting with ${AGENT.name}` }).waitFor();
      assert.equal(await panel.locator('.msg.customer').count(), 3);
      assert.equal(await panel.locator('.msg.agent').count(), 2);
      assert.equal(await shadowFocus(page), 'textarea.#hd-message');
    });

    await t.test('Escape closes the panel and focus returns to the launcher', async () => {
      await panel.getByRole('textbox', { name: 'Message' }).focus();
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden' });
      assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
      assert.equal(await shadowFocus(page), 'button.launcher');
      // A message while the panel is closed shows on the launcher.
      await agent.send({ type: 'message', conversation: convID, client_id: `a3-${RUN}`, text: 'Let me know if anything else comes up.' });
      await widget.locator('.badge').filter({ hasText: '1' }).waitFor();
      await shot(page, '10-closed-with-badge');
      await page.keyboard.press('Enter');
      await panel.waitFor();
      await widget.locator('.badge').waitFor({ state: 'hidden' });
    });

    await t.test('the customer ends the chat, rates it and asks for the transcript', async () => {
      await panel.getByRole('button', { name: 'End chat' }).click();
      await panel.getByRole('heading', { name: 'You ended the chat' }).waitFor();
      await agent.waitFrame('the end at the agent', (f) => f.type === 'ended' && f.conversation === convID);
      await shot(page, '11-ended');
      await panel.getByRole('button', { name: 'Send rating' }).click();
      await panel.getByText('Please choose a score from 1 to 5.').waitFor();
      await panel.getByLabel('4 out of 5').check();
      await panel.getByRole('textbox', { name: 'Anything to add?' }).fill('Quick and friendly.');
      await panel.getByRole('button', { name: 'Send rating' }).click();
      await panel.getByText('Thanks for rating this chat!').waitFor();
      await panel.getByRole('button', { name: 'Email transcript' }).click();
      await panel.getByText(`We’ve emailed the transcript to ${customer.email}.`).waitFor();
      // Both name the ended conversation rather than relying on the socket's.
      assert.deepEqual(net.sent.filter((f) => f.type === 'rating' || f.type === 'transcript').map((f) => [f.type, f.conversation]),
        [['rating', convID], ['transcript', convID]]);
      await shot(page, '12-rated');
    });

    await t.test('the rating and the whole conversation are stored, each message once', async () => {
      const { status, body } = await api(AGENT.token, 'GET', `/api/chat/conversations/${convID}`);
      assert.equal(status, 200);
      assert.equal(body.rating, 4);
      assert.equal(body.rating_comment, 'Quick and friendly.');
      assert.equal(body.closed_by, 'customer');
      assert.equal(body.customer_name, customer.name);
      assert.equal(body.customer_email, customer.email);
      assert.equal(body.article_opened, true);
      const texts = body.messages.filter((m) => m.from !== 'system').map((m) => m.text);
      assert.deepEqual(texts, [
        'my printer does not recognise the new ink cartridge',
        'Hi Carla! Which printer model is it? See https://example.com/printers.',
        'It is an Envy 6255',
        `A replacement ships today (${RUN}).`,
        'Thank you, are you still there?',
        'Let me know if anything else comes up.',
      ]);
      const seqs = body.messages.map((m) => m.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq has no gaps and no repeats');
      if (DATA) {
        await waitFor('the transcript in the outbox', () => outboxWith((s) => s.includes(customer.email) && s.includes('Envy 6255')));
      }
    });

    await t.test('a new chat starts from the pre-chat form, name and email kept', async () => {
      await panel.getByRole('button', { name: 'New chat' }).click();
      const form = panel.getByRole('form', { name: 'Start a chat' });
      await form.waitFor();
      assert.equal(await form.getByRole('textbox', { name: 'Your name' }).inputValue(), customer.name);
      assert.equal(await form.getByRole('textbox', { name: 'Email' }).inputValue(), customer.email);
      assert.equal(await form.getByRole('textbox', { name: 'How can we help?' }).inputValue(), '');
      assert.equal(await shadowFocus(page), 'textarea.#hd-question');
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
  }
});

test('the customer attaches files: uploaded, shown as chips, sent with the message', async (t) => {
  const name = `Paula Files ${RUN}`;
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, net, widget } = c;
  const panel = widget.getByRole('dialog');
  const attach = panel.getByRole('button', { name: 'Attach a file' });
  const chips = panel.getByRole('list', { name: 'Attachments' });
  const fileInput = panel.locator('input[type="file"]');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'widget-files-'));
  // A 1×1 PNG; a zip (refused by the server, which judges by content); a
  // file over the 10 MiB limit (refused before any upload).
  const png = path.join(dir, 'label.png');
  await writeFile(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));
  const zip = path.join(dir, 'drivers.zip');
  await writeFile(zip, Buffer.from('504b0304140000000000000000000000000000000000000000000000000000', 'hex'));
  const big = path.join(dir, 'scan.pdf');
  await writeFile(big, Buffer.alloc((10 << 20) + 1));
  const note = path.join(dir, 'notes.txt');
  await writeFile(note, 'Printer model: Envy 6255\n');
  const uploads = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/chat/attachments')) uploads.push(r);
  });
  let convID = 0;
  try {
    await t.test('the attach button works once the chat is under way', async () => {
      await page.goto(`${BASE}/demo`);
      await widget.getByRole('button', { name: 'Chat with us' }).click();
      await panel.getByText('We’re online').waitFor();
      await panel.getByRole('textbox', { name: 'Your name' }).fill(name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(`paula.${RUN}@customer.example`);
      await panel.getByRole('textbox', { name: 'How can we help?' }).fill('The label prints smudged');
      await panel.getByRole('button', { name: 'Start chat' }).click();
      const offer = await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.customer?.name === name, 40_000);
      convID = offer.conversation;
      await agent.send({ type: 'accept', conversation: convID });
      await panel.getByRole('status').filter({ hasText: `You’re chatting with ${AGENT.name}` }).waitFor();
      assert.equal(await attach.isEnabled(), true);
      assert.equal(await fileInput.getAttribute('accept'), 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain');
    });

    await t.test('a file over 10 MiB is refused before any upload', async () => {
      await fileInput.setInputFiles(big);
      await panel.getByRole('alert').filter({ hasText: 'scan.pdf is too large: files are limited to 10 MB.' }).waitFor();
      assert.equal(uploads.length, 0, 'nothing was uploaded');
      assert.equal(await chips.isVisible(), false);
    });

    await t.test('a type the server does not allow shows its reason inline and is not sent', async () => {
      await fileInput.setInputFiles(zip);
      const err = panel.getByRole('alert').filter({ hasText: /^drivers\.zip: file type not allowed/ });
      await err.waitFor();
      assert.equal(uploads.length, 1, 'the zip was uploaded and refused');
      const visitor = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)).visitor, `helpdesk-chat:${new URL(BASE).origin}`);
      assert.ok(visitor);
      assert.equal(await uploads[0].headerValue('x-visitor-token'), visitor, 'the upload carries the visitor token');
      assert.match(await uploads[0].headerValue('content-type'), /^multipart\/form-data; boundary=/);
      assert.equal(await chips.isVisible(), false, 'no chip for a refused file');
      await shot(page, '19-attachment-refused');
      // With nothing typed and nothing attached there is nothing to send.
      await panel.getByRole('button', { name: 'Send' }).click();
      assert.equal(await panel.locator('.msg.customer').count(), 1, 'only the question is in the log');
    });

    await t.test('chosen files wait as removable chips, with name and size', async () => {
      await fileInput.setInputFiles([png, note]);
      await chips.getByRole('listitem').filter({ hasText: 'label.png' }).filter({ hasText: '70 B' }).waitFor();
      await chips.getByRole('listitem').filter({ hasText: 'notes.txt' }).filter({ hasText: '25 B' }).waitFor();
      assert.equal(await panel.getByRole('alert').filter({ hasText: 'drivers.zip' }).count(), 0, 'the old problem goes');
      await shot(page, '20-attachment-chips');
      await chips.getByRole('button', { name: 'Remove notes.txt' }).click();
      await chips.getByRole('listitem').filter({ hasText: 'notes.txt' }).waitFor({ state: 'detached' });
      assert.equal(await chips.getByRole('listitem').count(), 1);
      assert.match(await chips.getByRole('listitem').innerText(), /^label\.png\s+70 B/);
    });

    await t.test('sending carries the attachment to the agent', async () => {
      await panel.getByRole('textbox', { name: 'Message' }).fill('Here is a photo of the label');
      await panel.getByRole('button', { name: 'Send' }).click();
      const got = await agent.waitFrame('the message with the attachment', (f) => f.type === 'message' && f.from === 'customer' && f.text === 'Here is a photo of the label');
      assert.equal(got.attachments?.length, 1);
      assert.equal(got.attachments[0].name, 'label.png');
      assert.equal(got.attachments[0].content_type, 'image/png');
      assert.equal(got.attachments[0].size, 70);
      const mine = panel.locator('.msg.customer').filter({ hasText: 'Here is a photo of the label' });
      await mine.getByRole('button', { name: 'label.png' }).waitFor();
      await mine.locator('.meta').filter({ hasText: 'Sent' }).waitFor();
      assert.equal(await chips.isVisible(), false, 'the chips go with the message');
      await shot(page, '21-attachment-sent');
    });

    await t.test('an attachment sent while offline goes after the reconnect, with no text', async () => {
      await net.drop();
      await panel.getByText('Connection lost. Reconnecting…').waitFor();
      await fileInput.setInputFiles(note);
      await chips.getByRole('listitem').filter({ hasText: '25 B' }).waitFor();
      await panel.getByRole('button', { name: 'Send' }).click();
      await panel.locator('.msg.customer.pending').getByRole('button', { name: 'notes.txt' }).waitFor();
      net.down = false;
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      const got = await agent.waitFrame('the resent attachment', (f) => f.type === 'message' && f.from === 'customer' && f.attachments?.[0]?.name === 'notes.txt');
      assert.equal(got.text, '');
      await panel.locator('.msg.customer').filter({ has: page.locator('.meta', { hasText: /^(Sent|Seen)$/ }) }).getByRole('button', { name: 'notes.txt' }).waitFor();
    });

    await t.test('the stored conversation holds exactly the attachments sent', async () => {
      const { status, body } = await api(AGENT.token, 'GET', `/api/chat/conversations/${convID}`);
      assert.equal(status, 200);
      const files = body.messages.flatMap((m) => (m.attachments || []).map((a) => a.name));
      assert.deepEqual(files, ['label.png', 'notes.txt']);
      await panel.getByRole('button', { name: 'End chat' }).click();
      await agent.waitFrame('the end', (f) => f.type === 'ended' && f.conversation === convID);
      assert.equal(await attach.isVisible(), false, 'no attaching once the chat has ended');
    });
    // Chromium logs the refused upload's 400 as a failed resource load.
    assert.deepEqual(c.problems.filter((p) => !/status of 400 .*\/api\/chat\/attachments\)$/.test(p)), [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a chat that ended before a reload is offered for rating, once', async (t) => {
  const name = `Rhea Reload ${RUN}`;
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, net, widget } = c;
  const panel = widget.getByRole('dialog');
  const launcher = widget.getByRole('button', { name: /^(Chat with us|Close chat)$/ });
  const card = panel.getByRole('region', { name: 'How was your chat with us?' });
  const key = `helpdesk-chat:${new URL(BASE).origin}`;
  const stored = () => page.evaluate((k) => JSON.parse(localStorage.getItem(k)), key);
  // reopen reloads the page and opens the panel once the widget has
  // looked at the visitor's history (so an offer would be there).
  const reopen = async () => {
    await page.reload();
    const history = page.waitForResponse((r) => r.url().endsWith('/api/chat/history'));
    await launcher.click();
    assert.equal((await history).status(), 200);
    await panel.getByRole('form', { name: 'Start a chat' }).waitFor();
  };
  // chatEndedByAgent has the customer chat with the agent, who accepts,
  // answers and ends the chat; it returns the conversation's id.
  const chatEndedByAgent = async (question) => {
    await panel.getByRole('textbox', { name: 'How can we help?' }).fill(question);
    await panel.getByRole('button', { name: 'Start chat' }).click();
    const offer = await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.customer?.name === name && f.preview === question, 40_000);
    await agent.send({ type: 'accept', conversation: offer.conversation });
    await panel.getByRole('status').filter({ hasText: `You’re chatting with ${AGENT.name}` }).waitFor();
    await agent.send({ type: 'message', conversation: offer.conversation, client_id: `r-${offer.conversation}-${RUN}`, text: 'That is sorted now. Anything else?' });
    await panel.locator('.msg.agent').filter({ hasText: 'That is sorted now.' }).waitFor();
    await agent.send({ type: 'close', conversation: offer.conversation });
    await panel.getByRole('heading', { name: `${AGENT.name} ended the chat` }).waitFor();
    return offer.conversation;
  };
  let convID = 0;
  try {
    await t.test('the agent ends the chat and the customer reloads without rating it', async () => {
      await page.goto(`${BASE}/demo`);
      await launcher.click();
      await panel.getByText('We’re online').waitFor();
      await panel.getByRole('textbox', { name: 'Your name' }).fill(name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(`rhea.${RUN}@customer.example`);
      convID = await chatEndedByAgent('Where is my toner order?');
      await shot(page, '22-ended-by-agent');
      await reopen();
    });

    await t.test('reopened, the panel offers to rate the ended chat above the pre-chat form', async () => {
      await card.waitFor();
      await card.getByText(`Your chat with ${AGENT.name} has ended. Tell us how it went.`).waitFor();
      assert.equal(await panel.getByRole('form', { name: 'Start a chat' }).isVisible(), true, 'a new chat can still start');
      assert.equal(await shadowFocus(page), 'textarea.#hd-question', 'the offer does not take the focus');
      await shot(page, '23-rating-offered');
    });

    await t.test('rating it stores the rating on the ended chat and thanks the customer', async () => {
      const sentBefore = net.sent.length;
      await card.getByRole('button', { name: 'Send rating' }).click();
      await card.getByText('Please choose a score from 1 to 5.').waitFor();
      await card.getByLabel('4 out of 5').check();
      await card.getByRole('textbox', { name: 'Anything to add?' }).fill('Sorted after the reload.');
      await card.getByRole('button', { name: 'Send rating' }).click();
      await card.getByText('Thanks for rating this chat!').waitFor();
      assert.equal(await shadowFocus(page), 'p.done', 'focus moves to the thanks');
      const rating = net.sent.slice(sentBefore).find((f) => f.type === 'rating');
      assert.deepEqual(rating, { type: 'rating', conversation: convID, score: 4, comment: 'Sorted after the reload.' });
      const hello = net.sent.slice(sentBefore).find((f) => f.type === 'hello');
      assert.ok(hello, 'the rating went on a socket opened for it');
      await shot(page, '24-rated-after-reload');
      const { status, body } = await api(AGENT.token, 'GET', `/api/chat/conversations/${convID}`);
      assert.equal(status, 200);
      assert.equal(body.rating, 4);
      assert.equal(body.rating_comment, 'Sorted after the reload.');
      assert.equal(body.closed_by, 'agent');
      assert.deepEqual((await stored()).asked, [convID], 'the rated chat is remembered');
    });

    await t.test('after another reload the rated chat is not offered again', async () => {
      await reopen();
      await page.waitForTimeout(300); // the card would show right after the history
      assert.equal(await card.count(), 0);
    });

    await t.test('no offer while a new chat is under way', async () => {
      await panel.getByRole('textbox', { name: 'How can we help?' }).fill('One more question about ink');
      await panel.getByRole('button', { name: 'Start chat' }).click();
      await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.customer?.name === name && f.preview === 'One more question about ink', 40_000);
      await page.reload();
      await launcher.click();
      await panel.locator('.msg.customer').filter({ hasText: 'One more question about ink' }).waitFor();
      assert.equal(await card.count(), 0);
    });

    await t.test('a dismissed offer is not made again', async () => {
      const offer = (await agent.frames()).find((f) => f.type === 'offer' && f.preview === 'One more question about ink');
      await agent.send({ type: 'accept', conversation: offer.conversation });
      await panel.getByRole('status').filter({ hasText: `You’re chatting with ${AGENT.name}` }).waitFor();
      await agent.send({ type: 'close', conversation: offer.conversation });
      await panel.getByRole('heading', { name: `${AGENT.name} ended the chat` }).waitFor();
      await reopen();
      await card.waitFor();
      await card.getByRole('button', { name: 'Dismiss' }).click();
      await card.waitFor({ state: 'detached' });
      assert.equal(await shadowFocus(page), 'textarea.#hd-question', 'focus goes to the form');
      assert.deepEqual((await stored()).asked, [convID, offer.conversation]);
      await reopen();
      await page.waitForTimeout(300);
      assert.equal(await card.count(), 0);
      const { body } = await api(AGENT.token, 'GET', `/api/chat/conversations/${offer.conversation}`);
      assert.equal(body.rating, undefined, 'dismissing rates nothing');
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
  }
});

test('a chat sent back to the queue shows the customer waiting again, until the next agent joins', async (t) => {
  const name = `Quinn Queue ${RUN}`;
  const question = `Can I swap my order to high-yield cartridges? ${RUN}`;
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, widget } = c;
  const panel = widget.getByRole('dialog');
  const banner = (text) => panel.getByRole('status').filter({ hasText: text });
  try {
    await t.test('the agent accepts, then sends the chat back to the queue', async () => {
      await page.goto(`${BASE}/demo`);
      await widget.getByRole('button', { name: 'Chat with us' }).click();
      await panel.getByText('We’re online').waitFor();
      await panel.getByRole('textbox', { name: 'Your name' }).fill(name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(`quinn.${RUN}@customer.example`);
      await panel.getByRole('textbox', { name: 'How can we help?' }).fill(question);
      await panel.getByRole('button', { name: 'Start chat' }).click();
      const offer = await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.preview === question, 40_000);
      await agent.send({ type: 'accept', conversation: offer.conversation });
      await banner(`You’re chatting with ${AGENT.name}`).waitFor();
      const offersBefore = (await agent.frames()).filter((f) => f.type === 'offer' && f.conversation === offer.conversation).length;
      await agent.send({ type: 'transfer', conversation: offer.conversation, queue: true });
      await panel.locator('.msg.system').filter({ hasText: 'went back to the queue' }).waitFor();
      await banner(/You’re next in line|You’re number \d+ in line|Waiting for the next available agent/).waitFor();
      assert.equal(await banner(`You’re chatting with ${AGENT.name}`).count(), 0, 'the banner no longer names the agent');
      await shot(page, '25-back-in-queue');

      // The only agent online is offered it again and takes it back.
      await waitFor('the second offer', async () =>
        (await agent.frames()).filter((f) => f.type === 'offer' && f.conversation === offer.conversation).length > offersBefore, 40_000);
      await agent.send({ type: 'accept', conversation: offer.conversation });
      await banner(`You’re chatting with ${AGENT.name}`).waitFor();
      await agent.send({ type: 'close', conversation: offer.conversation });
      await panel.getByRole('heading', { name: `${AGENT.name} ended the chat` }).waitFor();
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
  }
});

test('on a phone the panel fills the screen', async (t) => {
  const agent = await agentSocket(); // so that chat is available
  const c = await customerPage({ width: 375, height: 740 });
  const { page, widget } = c;
  try {
    await t.test('the open panel covers the viewport and the form fits', async () => {
      await page.goto(`${BASE}/demo`);
      await shot(page, '13-phone-shop');
      const launcher = widget.getByRole('button', { name: 'Chat with us' });
      await launcher.click();
      const panel = widget.getByRole('dialog');
      await panel.getByText('We’re online').waitFor();
      const box = await panel.boundingBox();
      assert.deepEqual([box.x, box.y, box.width, box.height].map(Math.round), [0, 0, 375, 740]);
      await panel.getByRole('textbox', { name: 'How can we help?' }).fill('Do you ship ink to Canada?');
      const start = panel.getByRole('button', { name: 'Start chat' });
      await start.scrollIntoViewIfNeeded();
      const b = await start.boundingBox();
      assert.ok(b.x >= 0 && b.x + b.width <= 375, 'the button fits the width');
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375, 'nothing scrolls sideways');
      await shot(page, '14-phone-panel');
      await panel.getByRole('button', { name: 'Close chat window' }).click();
      await panel.waitFor({ state: 'hidden' });
      assert.equal(await shadowFocus(page), 'button.launcher');
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
  }
});

test('when the last agent leaves before the chat starts, the question becomes a message', async (t) => {
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, widget } = c;
  const name = `Nina Noagent ${RUN}`;
  let agentOpen = true;
  try {
    await t.test('the refused chat turns into the message form, nothing typed lost', async () => {
      await page.goto(`${BASE}/demo`);
      await widget.getByRole('button', { name: 'Chat with us' }).click();
      const panel = widget.getByRole('dialog');
      await panel.getByText('We’re online').waitFor();
      const form = panel.getByRole('form', { name: 'Start a chat' });
      await form.getByRole('textbox', { name: 'Your name' }).fill(name);
      await form.getByRole('textbox', { name: 'Email' }).fill(`nina.${RUN}@customer.example`);
      await form.getByRole('textbox', { name: 'How can we help?' }).fill('Can I return an opened cartridge?');
      // The only agent signs off while the customer is still typing.
      await agent.close();
      agentOpen = false;
      await waitFor('no agent online', async () => (await (await fetch(`${BASE}/api/status`)).json()).agents_online === 0);
      await form.getByRole('button', { name: 'Start chat' }).click();
      const offline = panel.getByRole('form', { name: 'Leave a message' });
      await offline.waitFor();
      await panel.getByText('All our agents are busy or away right now.').waitFor();
      await panel.getByText('No one is free to chat right now').waitFor();
      assert.equal(await offline.getByRole('textbox', { name: 'Message' }).inputValue(), 'Can I return an opened cartridge?');
      assert.equal(await offline.getByRole('textbox', { name: 'Your name' }).inputValue(), name);
      assert.equal(await panel.locator('.msg').count(), 0, 'the refused message is not left in a chat log');
      await shot(page, '15-no-agents');
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    if (agentOpen) await agent.close();
  }
});

test('outside support hours the widget takes a message that becomes a ticket', async (t) => {
  const saved = await api(ADMIN_TOKEN, 'GET', '/api/admin/hours');
  assert.equal(saved.status, 200, 'GET /api/admin/hours with the admin token');
  const c = await customerPage();
  const { page, widget } = c;
  const name = `Olga Offline ${RUN}`;
  const email = `olga.${RUN}@customer.example`;
  try {
    // Open only tomorrow (in the shop's zone), so closed right now.
    const tz = (await (await fetch(`${BASE}/api/status`)).json()).timezone;
    const tomorrow = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short' }).format(new Date(Date.now() + 86400_000));
    const put = await api(ADMIN_TOKEN, 'PUT', '/api/admin/hours', { hours: `${tomorrow} 09:00-17:00`, timezone: saved.body.timezone, holidays: saved.body.holidays });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.open, false);

    let ticketID;
    await t.test('the widget says when chat opens and offers the message form', async () => {
      await page.goto(`${BASE}/demo`);
      await widget.getByRole('button', { name: 'Chat with us' }).click();
      const panel = widget.getByRole('dialog');
      await panel.getByText(/^Chat opens (tomorrow|[A-Z][a-z]{2}) 9:00 AM \S+$/).waitFor();
      await panel.getByText(new RegExp(`^Support hours: ${tomorrow} 9:00\u00a0AM–5:00\u00a0PM`)).waitFor();
      await panel.getByRole('form', { name: 'Leave a message' }).waitFor();
      await panel.getByText(/^Chat is closed right now\. It opens /).waitFor();
      await shot(page, '16-closed');
    });

    await t.test('leaving a message files a ticket and shows its number', async () => {
      const panel = widget.getByRole('dialog');
      await panel.getByRole('textbox', { name: 'Your name' }).fill(name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(email);
      await panel.getByRole('textbox', { name: 'Message' }).fill(`My order has not arrived yet (${RUN}).\nOrder 55123.`);
      await panel.getByRole('button', { name: 'Send message' }).click();
      await panel.getByRole('heading', { name: 'Thanks, we’ve got your message' }).waitFor();
      const number = await panel.locator('.ticket').innerText();
      assert.match(number, /^#\d+$/);
      ticketID = Number(number.slice(1));
      await panel.getByText(`We’ll reply to ${email} by email`).waitFor();
      await shot(page, '17-message-left');
    });

    await t.test('the ticket is in the queue', async () => {
      const { status, body } = await api(AGENT.token, 'GET', '/api/tickets?limit=50');
      assert.equal(status, 200);
      const tk = body.tickets.find((x) => x.id === ticketID);
      assert.ok(tk, `ticket #${ticketID} is listed`);
      assert.equal(tk.requester.email, email);
      assert.equal(tk.subject, `My order has not arrived yet (${RUN}).`);
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    const back = await api(ADMIN_TOKEN, 'PUT', '/api/admin/hours', { hours: saved.body.hours, timezone: saved.body.timezone, holidays: saved.body.holidays });
    assert.equal(back.status, 200, 'the hours are restored');
  }
});

test('a shop on another origin embeds the widget under its own CSP', async (t) => {
  if (!SHOP_ADDR) {
    t.skip('set HELPDESK_SHOP_ADDR (and --allowed-origins on the server) to run it');
    return;
  }
  const wsBase = BASE.replace(/^http/, 'ws');
  // The shop's policy lists the helpdesk for scripts and connections and
  // allows no inline style: the widget's constructed stylesheet still applies.
  const csp = `default-src 'self'; script-src 'self' ${BASE}; connect-src 'self' ${BASE} ${wsBase}; style-src 'self'; img-src 'self'`;
  const shop = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': csp });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Toner Town</title></head>
<body><h1>Toner Town</h1><p>Another shop, another origin.</p><script src="${BASE}/widget.js" async></script></body></html>`);
  });
  const [host, port] = [SHOP_ADDR.slice(0, SHOP_ADDR.lastIndexOf(':')), Number(SHOP_ADDR.slice(SHOP_ADDR.lastIndexOf(':') + 1))];
  await new Promise((resolve, reject) => shop.listen(port, host, resolve).on('error', reject));
  const agent = await agentSocket();
  const c = await customerPage();
  const { page, widget } = c;
  const name = `Xavier Origin ${RUN}`;
  try {
    await t.test('status, FAQ suggestions and the chat all work cross-origin', async () => {
      await page.goto(`http://${SHOP_ADDR}/`);
      await widget.getByRole('button', { name: 'Chat with us' }).click();
      const panel = widget.getByRole('dialog');
      await panel.getByText('We’re online').waitFor();
      await panel.getByRole('textbox', { name: 'Your name' }).fill(name);
      await panel.getByRole('textbox', { name: 'Email' }).fill(`xavier.${RUN}@customer.example`);
      await panel.getByRole('textbox', { name: 'How can we help?' }).fill('which cartridge fits my printer');
      await panel.locator('.articles').filter({ hasText: 'These articles might answer it' }).getByRole('link').first().waitFor();
      await panel.getByRole('button', { name: 'Start chat' }).click();
      const offer = await agent.waitFrame('the offer', (f) => f.type === 'offer' && f.customer?.name === name, 40_000);
      await agent.send({ type: 'accept', conversation: offer.conversation });
      await agent.send({ type: 'message', conversation: offer.conversation, client_id: `x1-${RUN}`, text: 'Hello from the helpdesk!' });
      await panel.locator('.msg.agent').filter({ hasText: 'Hello from the helpdesk!' }).waitFor();
      const keys = await page.evaluate(() => Object.keys(localStorage));
      assert.deepEqual(keys, [`helpdesk-chat:${new URL(BASE).origin}`], 'state is kept under a key named for the helpdesk');
      await shot(page, '18-other-origin');
      await panel.getByRole('button', { name: 'End chat' }).click();
      await agent.waitFrame('the end', (f) => f.type === 'ended' && f.conversation === offer.conversation);
    });
    assert.deepEqual(c.problems, [], 'the page logged errors');
  } finally {
    await c.context.close();
    await agent.close();
    await new Promise((resolve) => shop.close(resolve));
  }
});
