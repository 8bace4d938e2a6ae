// Browser tests of the customer help center, in Debian's Chromium driven by
// playwright-core. Run against a running helpdesk:
//
//   HELPDESK_URL=http://127.0.0.1:8090 npm test
//
// Every step saves a screenshot to ./screenshots (or $SCREENSHOT_DIR), and
// any uncaught page error or console error fails the test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.HELPDESK_URL || '').replace(/\/+$/, '');
const SHOTS = process.env.SCREENSHOT_DIR || path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const TIMEOUT = 10_000;

let browser;

before(async () => {
  assert.ok(BASE, 'set HELPDESK_URL to the address of a running helpdesk, e.g. http://127.0.0.1:8090');
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
});

// newPage opens a page in a fresh context and collects its errors.
// Chromium logs every 4xx response as a console error, so the responses a
// test provokes on purpose are listed in allow(urlPattern, status). A 429
// from the feedback endpoint is always allowed: it is the answer when the
// suite runs twice against one server (one vote per article per day).
async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  const allowed = [{ url: /\/api\/kb\/articles\/[^/]+\/feedback$/, status: 429 }];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url ?? '';
    if (allowed.some((a) => a.url.test(where) && msg.text().includes(`status of ${a.status}`))) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
  const allow = (url, status) => allowed.push({ url, status });
  return { context, page, problems, allow };
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

function assertClean(problems) {
  assert.deepEqual(problems, [], 'the page logged errors');
}

test('a customer finds an answer, rates it and browses its topic', async (t) => {
  const { context, page, problems, allow } = await newPage();
  try {
    let chosenTitle;

    await t.test('home shows the search box, topics and whether support is open', async () => {
      const res = await page.goto(`${BASE}/`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self'/);
      await page.getByRole('heading', { level: 1, name: 'How can we help?' }).waitFor();
      const status = page.locator('[data-status]');
      await status.waitFor({ state: 'visible' });
      assert.match(await status.innerText(), /^(Open now — (chat with us|call or email us)|Closed — opens .+|Closed)/);
      assert.ok((await page.locator('.tile').count()) > 0, 'topic tiles are listed');
      assert.ok((await page.locator('.dept a[href^="tel:"]').count()) > 0, 'departments have phone links');
      assert.ok((await page.locator('.dept a[href^="mailto:"]').count()) > 0, 'departments have email links');
      await shot(page, '01-home');
    });

    await t.test('typing a misspelt query shows highlighted suggestions', async () => {
      const input = page.getByRole('combobox', { name: 'Search help articles' });
      await input.click();
      await input.pressSequentially('refnd', { delay: 40 });
      const list = page.getByRole('listbox', { name: 'Suggested articles' });
      await list.waitFor({ state: 'visible' });
      await page.locator('.suggestion mark').first().waitFor();
      assert.equal(await input.getAttribute('aria-expanded'), 'true');
      const options = list.getByRole('option');
      assert.ok((await options.count()) > 1, 'suggestions and a "see all" option are shown');
      assert.match(await page.locator('[data-suggest-status]').innerText(), /match/);
      await shot(page, '02-suggestions', false);
    });

    await t.test('arrow keys move through the suggestions and Escape closes them', async () => {
      const input = page.locator('#q');
      await input.press('ArrowDown');
      await input.press('ArrowDown');
      await input.press('ArrowUp');
      const active = page.locator('[role="option"][aria-selected="true"]');
      assert.equal(await active.count(), 1);
      const id = await active.getAttribute('id');
      assert.equal(await input.getAttribute('aria-activedescendant'), id);
      assert.equal(id, 'q-suggestions-0', 'ArrowUp returns to the first suggestion');
      chosenTitle = (await active.locator('.suggestion-title').innerText()).trim();
      await shot(page, '03-suggestion-selected', false);

      await input.press('Escape');
      await page.locator('#q-suggestions').waitFor({ state: 'hidden' });
      assert.equal(await input.getAttribute('aria-expanded'), 'false');
      await input.press('ArrowDown'); // reopens on the first suggestion
      await page.locator('#q-suggestions').waitFor({ state: 'visible' });
      assert.equal(await input.getAttribute('aria-activedescendant'), 'q-suggestions-0');
    });

    await t.test('Enter opens the chosen article', async () => {
      await Promise.all([page.waitForURL(/\/kb\/[a-z0-9-]+$/), page.locator('#q').press('Enter')]);
      const h1 = page.getByRole('heading', { level: 1 });
      assert.equal((await h1.innerText()).trim(), chosenTitle);
      const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
      assert.equal(await crumbs.getByRole('link').count(), 2);
      await shot(page, '04-article');
    });

    await t.test('"Was this helpful?" records one vote and thanks the customer', async () => {
      const box = page.locator('[data-feedback]');
      await box.waitFor({ state: 'visible' });
      await box.getByRole('button', { name: 'Yes' }).click();
      const msg = box.locator('[data-feedback-message]');
      await msg.filter({ hasText: /Thanks for your feedback|already told us/ }).waitFor();
      assert.ok(await box.getByRole('button', { name: 'Yes' }).isDisabled());
      assert.ok(await box.getByRole('button', { name: 'No' }).isDisabled());
      await box.scrollIntoViewIfNeeded();
      await shot(page, '05-feedback-thanks');
    });

    await t.test('the breadcrumb leads to the category page', async () => {
      const crumb = page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link').nth(1);
      const category = (await crumb.innerText()).trim();
      await Promise.all([page.waitForURL(/\/kb\/category\/[a-z0-9-]+$/), crumb.click()]);
      assert.equal((await page.getByRole('heading', { level: 1 }).innerText()).trim(), category);
      const items = page.locator('.article-list li');
      assert.ok((await items.count()) > 0, 'the category lists its articles');
      assert.ok((await page.getByRole('link', { name: chosenTitle, exact: true }).count()) > 0, 'the article is in its category');
      await shot(page, '06-category');
    });

    await t.test('the search page filters by category', async () => {
      await page.goto(`${BASE}/search?q=${encodeURIComponent('refund')}`);
      const results = page.locator('.result');
      assert.ok((await results.count()) > 0, 'results are listed');
      assert.ok((await page.locator('.result mark').count()) > 0, 'matches are highlighted');
      const facet = page.locator('.facets a:not([aria-current])').first();
      const facetName = (await facet.innerText()).replace(/\s+\d+\s*$/, '').trim();
      await Promise.all([page.waitForURL(/category=/), facet.click()]);
      assert.match(await page.locator('.facets a[aria-current="page"]').innerText(), new RegExp(facetName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      for (const cat of await page.locator('.result-category').allInnerTexts()) {
        assert.equal(cat.trim(), facetName);
      }
      await shot(page, '07-search-filtered');
    });

    await t.test('an unknown article is a friendly 404', async () => {
      allow(/\/kb\/no-such-article-here$/, 404);
      const res = await page.goto(`${BASE}/kb/no-such-article-here`);
      assert.equal(res.status(), 404);
      await page.getByRole('heading', { level: 1, name: /couldn’t find/ }).waitFor();
      await shot(page, '08-not-found');
    });

    assertClean(problems);
  } finally {
    await context.close();
  }
});

test('search works with JavaScript turned off', async () => {
  const { context, page, problems } = await newPage({ javaScriptEnabled: false });
  try {
    await page.goto(`${BASE}/`);
    // Without scripts, the posted hours are the only availability shown.
    assert.equal(await page.locator('[data-status]').isVisible(), false);
    await page.locator('#q').fill('refund');
    await Promise.all([page.waitForURL(/\/search\?q=refund/), page.locator('#q').press('Enter')]);
    assert.ok((await page.locator('.result').count()) > 0, 'results are listed');
    assert.ok((await page.locator('.result mark').count()) > 0, 'matches are highlighted');
    assert.equal(await page.locator('[data-feedback]').count(), 0);
    await shot(page, '09-search-no-js');

    await page.goto(`${BASE}/search?q=${encodeURIComponent('xylophone zebra quasar')}`);
    await page.getByRole('heading', { name: /No articles match/ }).waitFor();
    assert.ok((await page.getByRole('link', { name: 'contact our support team' }).count()) > 0);
    await shot(page, '10-search-no-results');
    assertClean(problems);
  } finally {
    await context.close();
  }
});

test('pages fit a 375px-wide phone', async (t) => {
  const { context, page, problems } = await newPage({
    viewport: { width: 375, height: 812 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  try {
    const article = await firstArticleURL(page);
    for (const [name, url] of [
      ['11-phone-home', '/'],
      ['12-phone-search', '/search?q=refund'],
      ['13-phone-article', article],
    ]) {
      await t.test(name, async () => {
        await page.goto(`${BASE}${url}`);
        await page.waitForLoadState('networkidle');
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
        await shot(page, name);
      });
    }
    await t.test('12b-phone-suggestions', async () => {
      await page.goto(`${BASE}/`);
      await page.locator('#q').pressSequentially('track order', { delay: 30 });
      await page.locator('.suggestion mark').first().waitFor();
      await shot(page, '14-phone-suggestions', false);
    });
    assertClean(problems);
  } finally {
    await context.close();
  }
});

async function firstArticleURL(page) {
  const res = await page.request.get(`${BASE}/api/kb/articles`);
  assert.equal(res.status(), 200);
  const body = await res.json();
  const list = body.articles ?? body.items ?? body;
  assert.ok(Array.isArray(list) && list.length > 0, 'the knowledge base has articles');
  return `/kb/${list[0].slug}`;
}
