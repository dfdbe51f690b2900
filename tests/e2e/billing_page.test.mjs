// The billing page end to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): the
// README's run command (scripts/run.sh) starts the whole service with the Stripe fake and its demo account, and
// the page is driven like a customer would: upgrade charged exactly as previewed, a downgrade scheduled and
// cancelled, invoice links and pages, usage, a declined card and an expired preview, the portal, phone width; a new
// account subscribing through (the fake's stand-in for) Stripe Checkout, and an upgrade whose payment needs 3-D
// Secure waiting, then applied once the customer confirms it on the invoice page: both arrive through the webhook
// path, as the fake delivers its events to the receiver.
// Screenshots go to $E2E_ARTIFACTS (default build/e2e-artifacts). Ends with "N passed, N failed".
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = process.env.E2E_ARTIFACTS || path.join(root, 'build', 'e2e-artifacts');
mkdirSync(artifacts, { recursive: true });

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Same formatting as the page (web/billing.js) for USD in en-US.
const usd = (minor) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2 }).format(minor / 100);

const state = mkdtempSync(path.join(os.tmpdir(), 'billing-e2e-'));
const ports = { webhook: await freePort(), worker: await freePort(), api: await freePort(), usage: await freePort(),
  stripe: await freePort() };
const log = path.join(state, 'run.log');
const run = spawn('bash', ['-c', `exec bash "${root}/scripts/run.sh" > "${log}" 2>&1`], {
  detached: true,
  env: { ...process.env, BILLING_STATE_DIR: state, BILLING_WEBHOOK_PORT: String(ports.webhook),
    BILLING_WORKER_PORT: String(ports.worker), BILLING_API_PORT: String(ports.api), BILLING_USAGE_PORT: String(ports.usage),
    BILLING_FAKE_STRIPE_PORT: String(ports.stripe), BILLING_LOG_LEVEL: 'warn' },
});

let passed = 0;
let failed = 0;
let browser;
function stopService() {
  try { process.kill(run.pid, 'SIGTERM'); } catch { /* gone */ }
}

async function waitForService() {
  for (let i = 0; i < 600; i++) {
    let text = '';
    try { text = readFileSync(log, 'utf8'); } catch { /* not yet */ }
    if (text.includes('Ctrl-C stops')) return text;
    if (run.exitCode !== null) throw new Error(`run.sh exited early:\n${text.slice(-3000)}`);
    await sleep(500);
  }
  throw new Error('run.sh did not come up in 5 minutes');
}

async function test(name, body) {
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  try {
    await body(page, context);
    const unexpected = consoleErrors.filter((e) => !e.includes('status of 402') && !e.includes('status of 400'));
    if (unexpected.length) throw new Error(`console errors: ${unexpected.join(' | ')}`);
    passed++;
    console.log(`PASS ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page.screenshot({ path: path.join(artifacts, `failed-${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

let links = {};
let fakeBase = '';
async function stripe(pathname) {
  const r = await fetch(fakeBase + pathname, { headers: { Authorization: 'Bearer sk_test_local_fake' } });
  return r.json();
}

try {
  const output = await waitForService();
  for (const m of output.matchAll(/Billing page \((\w+)\): (\S+)/g)) links[m[1]] = m[2];
  fakeBase = (readFileSync(path.join(state, 'fake-stripe.log'), 'utf8').match(/listening on (\S+)/) || [])[1];
  expect(links.demo && links.demo_declined && links.demo_new && links.demo_past_due && links.demo_3ds && links.demo_none,
    `links missing in run.sh output:\n${output}`);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });

  await test('current plan, invoices with links and pages, usage chart', async (page) => {
    await page.goto(links.demo);
    await page.waitForSelector('#current-plan-name');
    expect(await page.textContent('#current-plan-name') === 'Pro', 'current plan is Pro');
    expect(!page.url().includes('token='), 'the token leaves the address bar');
    const current = page.locator('.plan-card.is-current');
    expect(await current.locator('h3').textContent() === 'Pro', 'Pro card marked current');
    expect((await current.textContent()).includes('Current plan'), 'current plan marker');
    const rows = page.locator('#invoices-body tbody tr');
    await rows.first().waitFor();
    expect(await rows.count() === 10, `10 invoices on the first page, got ${await rows.count()}`);
    const view = rows.first().locator('a', { hasText: 'View' });
    expect((await view.getAttribute('href')).startsWith('https://invoice.stripe.com/i/'), 'hosted invoice link');
    expect((await rows.first().locator('a', { hasText: 'PDF' }).getAttribute('href')).endsWith('/pdf'), 'PDF link');
    expect((await rows.first().textContent()).includes('$29.00'), 'amount with currency');
    expect((await rows.first().locator('.badge').textContent()) === 'paid', 'status badge');
    await page.click('#invoices-next');
    await page.waitForFunction(() => document.querySelectorAll('#invoices-body tbody tr').length === 2);
    await page.click('#invoices-prev');
    await page.waitForFunction(() => document.querySelectorAll('#invoices-body tbody tr').length === 10);
    await page.waitForSelector('.meter svg rect');
    expect(!(await page.isVisible('#page-error')), 'no error banner on a good load');
    const text = await page.evaluate(() => document.body.innerText);
    expect(!/\b(null|undefined|NaN)\b/.test(text), 'no null, undefined or NaN shown');
    expect(await page.locator('.meter svg rect').count() >= 5, 'a bar per day of usage');
    await shot(page, '01-overview');
  });

  await test('upgrade: the charge equals the preview', async (page) => {
    await page.goto(links.demo);
    await page.click('button[aria-label="Upgrade to Business (monthly)"]');
    await page.waitForSelector('#change-dialog[open]');
    const summary = await page.textContent('#change-summary');
    expect(/You'll be charged \$[\d,.]+ today, including \$[\d,.]+ credit for unused time\./.test(summary), `summary: ${summary}`);
    const due = await page.textContent('#preview-due');
    // The parts shown add up to what is due (same interval: the rest of the period less the unused time).
    const cents = async (id) => Math.round(Number((await page.textContent(id)).replace(/[^\d.]/g, '')) * 100);
    expect(!(await page.isVisible('#preview-new-period')), 'no new period on the same interval');
    expect(await cents('#preview-charge') - await cents('#preview-credit') === await cents('#preview-due'),
      'charge - credit = due');
    await shot(page, '02-upgrade-preview');
    await page.click('#change-confirm');
    await page.waitForFunction(() => document.querySelector('#current-plan-name')?.textContent === 'Business');
    expect(!(await page.isVisible('#change-dialog[open]')), 'dialog closed');
    const sub = await stripe('/v1/subscriptions/sub_demo');
    const invoice = await stripe(`/v1/invoices/${sub.latest_invoice}`);
    expect(usd(invoice.amount_due) === due, `charged ${usd(invoice.amount_due)}, previewed ${due}`);
    expect(sub.items.data[0].price.id === 'price_demo_business_monthly', 'Stripe has the new price');
    await shot(page, '03-upgraded');
  });

  await test('downgrade: scheduled for the period end, then cancelled', async (page) => {
    await page.goto(links.demo);
    await page.click('button[aria-label="Downgrade to Starter (monthly)"]');
    await page.waitForSelector('#change-dialog[open]');
    const summary = await page.textContent('#change-summary');
    expect(/Your plan changes on .+, no charge today\./.test(summary), `summary: ${summary}`);
    await page.click('#change-confirm');
    await page.waitForSelector('#scheduled-banner');
    const banner = await page.textContent('#scheduled-banner');
    expect(/Moves to Starter on \w+ \d+, \d{4}\./.test(banner), `banner: ${banner}`);
    expect(await page.textContent('#current-plan-name') === 'Business', 'still Business until then');
    await shot(page, '04-downgrade-scheduled');
    await page.click('#scheduled-banner button');
    await page.waitForSelector('#scheduled-banner', { state: 'detached' });
    const sub = await stripe('/v1/subscriptions/sub_demo');
    expect(sub.schedule === null, 'the schedule was released at Stripe');
  });

  await test('a declined card: the change waits for a payment, the plan unchanged, a way forward', async (page) => {
    await page.goto(links.demo_declined);
    await page.click('button[aria-label="Upgrade to Pro (monthly)"]');
    await page.waitForSelector('#change-dialog[open]');
    await page.click('#change-confirm');
    await page.waitForSelector('#pending-banner');
    const banner = await page.textContent('#pending-banner');
    expect(banner.includes('Your change to Pro waits for a payment of $') && banner.includes('or the change is dropped'), `banner: ${banner}`);
    expect(await page.isVisible('#pending-banner button:has-text("Update payment method")'), 'a way forward');
    expect((await page.getAttribute('#complete-payment', 'href')).includes('/_hosted/invoice/'), 'the invoice page link');
    expect(await page.textContent('#current-plan-name') === 'Starter', 'still Starter');
    expect((await page.textContent('#page-status')).includes('needs your attention'), 'status says what to do');
    await shot(page, '05-declined');
  });

  await test('3-D Secure: the upgrade waits, then applies once the customer confirms on the invoice page', async (page, context) => {
    await page.goto(links.demo_3ds);
    await page.click('button[aria-label="Upgrade to Pro (monthly)"]');
    await page.waitForSelector('#change-dialog[open]');
    const due = await page.textContent('#preview-due');
    await page.click('#change-confirm');
    await page.waitForSelector('#pending-banner');
    expect((await page.textContent('#pending-banner')).includes(`payment of ${due}`), 'the amount previewed is what waits');
    await shot(page, '05b-payment-pending');
    // The customer opens Stripe's invoice page (the fake's stand-in) and confirms with the bank.
    const [invoicePage] = await Promise.all([context.waitForEvent('page'), page.click('#complete-payment')]);
    await invoicePage.waitForSelector('#pay');
    await invoicePage.click('#pay');
    await invoicePage.waitForSelector('#paid');
    // The fake delivers the events to the receiver; the worker applies them; the page sees the change.
    await page.waitForFunction(() => document.querySelector('#current-plan-name')?.textContent === 'Pro', null, { timeout: 60000 });
    await page.waitForSelector('#pending-banner', { state: 'detached' });
    await page.waitForFunction(() => document.getElementById('page-status').textContent.includes("You're now on Pro"));
  });

  await test('a new account starts a plan through Checkout and sees it', async (page) => {
    await page.goto(links.demo_none);
    await page.waitForSelector('#no-subscription');
    expect((await page.textContent('#no-subscription')) === 'No subscription yet.', 'no subscription yet');
    await shot(page, '05c-no-subscription');
    await page.click('button[aria-label="Choose Pro (monthly)"]');
    await page.waitForURL('**/_hosted/checkout/**');
    expect((await page.textContent('main')).includes('Pro'), 'Checkout shows the plan');
    await page.click('#pay');
    await page.waitForURL('**/billing/?checkout=complete');
    await page.waitForFunction(() => document.querySelector('#current-plan-name')?.textContent === 'Pro', null, { timeout: 60000 });
    expect(!page.url().includes('checkout=complete'), 'the return marker leaves the address bar');
    await page.waitForFunction(() => document.getElementById('page-status').textContent.includes('Welcome to Pro'));
    expect(await page.locator('.plan-card.is-current h3').textContent() === 'Pro', 'Pro card marked current');
    await shot(page, '05d-subscribed');
  });

  await test('an expired preview offers to preview again', async (page) => {
    await page.route('**/subscription/preview', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.preview_token = 'expired.preview.token';
      await route.fulfill({ response, json: body });
    });
    await page.goto(links.demo_new);
    await page.click('button[aria-label="Upgrade to Pro (monthly)"]');
    await page.waitForSelector('#change-dialog[open]');
    await page.click('#change-confirm');
    await page.waitForSelector('#change-error:not([hidden])');
    expect((await page.textContent('#change-error')).includes('This preview has expired.'), 'expired message');
    expect(await page.isVisible('#change-error button:has-text("Preview again")'), 'preview again');
    await shot(page, '06-expired-preview');
  });

  await test('empty invoices, past-due banner and the Customer Portal', async (page) => {
    await page.goto(links.demo_new);
    await page.waitForSelector('#invoices-empty');
    expect((await page.textContent('#invoices-empty')) === 'No invoices yet.', 'empty state');
    await page.goto(links.demo_past_due);
    await page.waitForSelector('#past-due-banner');
    expect((await page.textContent('#past-due-banner')).includes('Your last payment failed'), 'past-due banner');
    await shot(page, '07-past-due');
    await page.route('https://billing.stripe.com/**', (route) => route.fulfill({ contentType: 'text/html', body: '<h1>Stripe portal</h1>' }));
    await page.click('#past-due-banner button');
    await page.waitForURL('https://billing.stripe.com/p/session/**');
    const sessions = await stripe('/v1/billing_portal/configurations');  // the fake answered; the flow is recorded below
    expect(sessions.object === 'list', 'fake reachable');
  });

  // The page's side of two states the API test suite produces against the fake (api_pgtest: "a renewal waiting for
  // 3-D Secure", "with usage billing and 3-D Secure"): the answers are the server's, with the one field changed.
  await test('a payment waiting for 3-D Secure points to its invoice page, and a usage plan can change now and confirm after', async (page) => {
    const hosted = 'https://invoice.stripe.com/i/acct_fake/test_in_demo_3ds';
    await page.route('**/subscription', async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const answer = await (await route.fetch()).json();
      answer.subscription.past_due = true;
      answer.subscription.payment_action = { invoice_id: answer.subscription.latest_invoice_id, amount_due: 1234, currency: 'usd', hosted_invoice_url: hosted };
      return route.fulfill({ contentType: 'application/json', body: JSON.stringify(answer) });
    });
    await page.goto(links.demo_past_due);
    await page.waitForSelector('#payment-action-banner');
    expect((await page.textContent('#payment-action-banner')).includes('Your bank needs you to confirm a payment of $12.34'), 'says what to do');
    expect((await page.getAttribute('#confirm-payment', 'href')) === hosted, "the invoice's page");
    expect(!(await page.isVisible('#past-due-banner')), 'no "update your card" banner for it');
    await shot(page, '07b-payment-action');
    await page.unroute('**/subscription');

    const bodies = [];
    await page.route('**/subscription/change', async (route) => {
      const body = JSON.parse(route.request().postData());
      bodies.push(body);
      if (!body.authenticate_after_change) {
        return route.fulfill({ status: 402, contentType: 'application/json', body: JSON.stringify({ error: {
          type: 'payment_error', code: 'authentication_required', message: 'the bank asks the customer to confirm this payment', request_id: 'req_e2e' } }) });
      }
      return route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: {
        type: 'invalid_request_error', code: 'preview_stale', message: 'stop here', request_id: 'req_e2e2' } }) });
    });
    await page.goto(links.demo);  // on Business monthly by now: annual is the upgrade
    await page.click('label[for="interval-year"]');
    await page.click('button[aria-label="Upgrade to Business (annual)"]');
    await page.waitForSelector('#change-dialog[open]');
    await page.click('#change-confirm');
    await page.waitForSelector('#change-then-confirm');
    expect((await page.textContent('#change-error')).includes('Your bank needs you to confirm this payment. Your plan has not changed.'), 'in words');
    await page.click('#change-then-confirm');
    await page.waitForFunction(() => document.getElementById('change-error').textContent.includes('changed since this preview'));
    expect(bodies.length === 2 && bodies[1].authenticate_after_change === true && bodies[1].preview_token === bodies[0].preview_token,
      `second confirmation asks to change now: ${JSON.stringify(bodies)}`);
  });

  await test('phone width, keyboard and labels', async (page, context) => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(links.demo);
    await page.waitForSelector('#invoices-body tbody tr');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width <= 376, `no horizontal scroll at phone width (${width}px)`);
    await shot(page, '08-phone');
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, a, input')]
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent.trim() || (e.labels && e.labels.length)))
      .map((e) => e.outerHTML));
    expect(unnamed.length === 0, `controls without a name: ${unnamed.join(', ')}`);
    // The interval toggle and the plan buttons are reachable and usable from the keyboard.
    await page.focus('#interval-year');
    await page.keyboard.press('Space');
    await page.waitForSelector('button[aria-label$="(annual)"]');
    const button = page.locator('button[aria-label$="(annual)"]').first();
    await button.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#change-dialog[open]');
    expect(await page.evaluate(() => document.activeElement.id) === 'change-confirm', 'focus moves into the dialog');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.getElementById('change-dialog').open);
    void context;
  });

  await test('without a token the page says what to do', async (page) => {
    await page.goto(links.demo.split('#')[0]);
    await page.waitForSelector('#page-error:not([hidden])');
    expect((await page.textContent('#page-error')).includes('Open this page from your app'), 'guidance');
  });
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  stopService();
  for (let i = 0; i < 60 && run.exitCode === null; i++) await sleep(500);
  if (run.exitCode === null) { try { process.kill(-run.pid, 'SIGKILL'); } catch { /* gone */ } }
  if (failed) {
    try { console.log(readFileSync(log, 'utf8').slice(-4000)); } catch { /* none */ }
  }
  try {
    const location = readFileSync(path.join(state, 'postgres', 'pg-location'), 'utf8').trim();
    rmSync(location, { recursive: true, force: true });
  } catch { /* inside the state dir */ }
  rmSync(state, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
