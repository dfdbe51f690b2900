// The billing page: reads the account's billing state from the billing API with the account-scoped token the
// product minted (POST /v1/tokens) and passed in the URL fragment (#token=..., never sent to a server or a log),
// starts a subscription through Stripe Checkout, and drives plan changes through preview -> confirm (an upgrade
// whose payment needs the customer waits as a pending change, paid on Stripe's invoice page). Every value from the
// API is put in the DOM as text.

const API = '/v1';
const TOKEN_KEY = 'billing.token';

// Stripe's minor units: zero-decimal and three-decimal currencies (https://docs.stripe.com/currencies).
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd',
  'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function minorUnitDigits(currency) {
  const c = String(currency || '').toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

export function formatMoney(minor, currency, locale) {
  const digits = minorUnitDigits(currency);
  const value = Number(minor) / 10 ** digits;
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency: String(currency).toUpperCase(),
      minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${String(currency).toUpperCase()}`;
  }
}

export function formatDate(iso, locale) {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(locale, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
}

export function formatDateTime(iso, locale) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(locale, { year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit',
    minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' });
}

// The usage section's period line. Without a subscription there is no billing period yet: the usage is counted
// by calendar month (the API's period_kind), and the page says so rather than show a month as if it were billed.
export function usagePeriodText(usage, locale) {
  if (usage.period_kind === 'calendar_month') {
    const month = new Date(usage.period_start).toLocaleDateString(locale, { year: 'numeric', month: 'long', timeZone: 'UTC' });
    return `No billing period yet: there is no subscription. Usage of ${month} so far.`;
  }
  return `${formatDate(usage.period_start, locale)} – ${formatDate(usage.period_end, locale)}`;
}

// A meter's usage no invoice will carry (the API's not_billed_reason): said on its card, so it never reads as billed.
export function meterNotBilledText(meter) {
  if (meter.billed_on_plan !== false) return '';
  return meter.not_billed_reason === 'no_billable_subscription'
    ? 'Not billed: there is no subscription to bill it.'
    : 'Not billed: your plan has no price for this usage.';
}

// What an upgrade costs today, by how the subscription pays (the preview's collection): a card is charged now, an
// invoice-terms customer is sent an invoice, a bank account is debited over some business days.
export function upgradeSummaryText(preview, money) {
  const credit = preview.proration_credit > 0 ? `, including ${money(preview.proration_credit)} credit for unused time` : '';
  if (preview.collection === 'invoice') return `You'll be sent an invoice for ${money(preview.amount_due_now)}${credit}, payable by your invoice terms.`;
  if (preview.collection === 'bank_debit') return `${money(preview.amount_due_now)} will be debited from your bank account${credit}; it takes a few business days.`;
  return `You'll be charged ${money(preview.amount_due_now)} today${credit}.`;
}

// After an upgrade Stripe applied at once: said by how it is paid (the change answer's outcome and invoice).
export function appliedChangeText(answer, planName, locale) {
  if (answer.outcome === 'invoiced' && answer.invoice) {
    const due = answer.invoice.due_date ? `, due ${formatDate(answer.invoice.due_date, locale)}` : '';
    return `You're now on ${planName}. Its invoice for ${formatMoney(answer.invoice.amount_due, answer.invoice.currency, locale)} is sent${due}.`;
  }
  if (answer.outcome === 'payment_processing') return `You're now on ${planName}. The payment from your bank account is processing.`;
  return `You're now on ${planName}.`;
}

const intervalWords = { day: 'day', week: 'week', month: 'month', year: 'year' };
function perInterval(price) {
  const n = price.interval_count || 1;
  const unit = intervalWords[price.interval] || price.interval;
  return n === 1 ? `per ${unit}` : `every ${n} ${unit}s`;
}

// Same rule as the server (api/plan_changes.cpp): a longer period applies now, a shorter one at the period end,
// on the same period the higher price x quantity applies now.
function periodDays(p) {
  const days = { day: 1, week: 7, month: 30, year: 365 }[p.interval] || 30;
  return days * (p.interval_count || 1);
}
// `amount` is the server's price of one period (api/billing_reads.cpp: tiered, decimal and transformed prices
// included); the current item's is at its quantity, a plan card's at one. null: not priceable here, so the
// label stays neutral ("Change") and the preview, priced by the server, tells.
function changeLabel(from, to) {
  if (periodDays(from) !== periodDays(to)) return periodDays(to) > periodDays(from) ? 'Upgrade' : 'Downgrade';
  const quantity = from.quantity || 1;
  if (from.amount == null || to.amount == null || to.pricing === 'tiered' || from.pricing === 'tiered') return 'Change';
  return (to.amount * quantity * 365) / periodDays(to) > (from.amount * 365) / periodDays(from) ? 'Upgrade' : 'Downgrade';
}

// A plan card's price: a tiered price costs more per seat at some counts, so one seat's price is a "from".
export function cardPriceText(price) {
  if (price.amount == null) return 'Price shown before you confirm';
  const money = formatMoney(price.amount, price.currency);
  return price.pricing === 'tiered' ? `From ${money}` : money;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || `request failed (${status})`);
    this.status = status;
    this.code = (error && error.code) || 'network_error';
    this.requestId = error && error.request_id;
  }
}

function readToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  let token = hash.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);  // keep it out of the address bar
  } else {
    token = sessionStorage.getItem(TOKEN_KEY);
  }
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return { token, account: payload.sub };
  } catch {
    return null;
  }
}

const state = { token: '', account: '', subscription: null, plans: [], interval: 'month', pages: [''], page: 0 };

async function api(method, path, body, headers = {}) {
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers: { Authorization: `Bearer ${state.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiFailure(0, { code: 'network_error', message: 'The billing service could not be reached. Check your connection and try again.' });
  }
  let json = null;
  try { json = await response.json(); } catch { /* an empty or non-JSON answer */ }
  if (!response.ok) throw new ApiFailure(response.status, json && json.error);
  return json;
}

const account = () => `/accounts/${encodeURIComponent(state.account)}`;

function say(message) { document.getElementById('page-status').textContent = message; }

function showPageError(message) {
  const box = document.getElementById('page-error');
  box.replaceChildren(el('span', {}, message));
  box.hidden = false;
}

function describeFailure(e) {
  if (e.status === 401) return 'Your billing session has expired. Open this page again from the app.';
  if (e.status === 403) return 'This billing page is for another account.';
  const id = e.requestId ? ` (request ${e.requestId})` : '';
  return `${e.message}${id}`;
}

// --- portal -------------------------------------------------------------------------------------------------

async function openPortal(flow, button) {
  if (button) button.disabled = true;
  try {
    const session = await api('POST', `${account()}/portal_session`,
      { return_url: location.origin + location.pathname, ...(flow ? { flow } : {}) });
    location.assign(session.url);
  } catch (e) {
    showPageError(`The billing portal could not be opened: ${describeFailure(e)}`);
    if (button) button.disabled = false;
  }
}

// --- current plan and banners -------------------------------------------------------------------------------

function renderSubscription() {
  const sub = state.subscription;
  const banners = document.getElementById('banners');
  banners.replaceChildren();
  const box = document.getElementById('current-plan');
  document.getElementById('current').hidden = false;
  if (!hasCurrent()) {
    box.replaceChildren(el('p', { id: 'no-subscription' }, sub && sub.ended_at
      ? `Your subscription ended on ${formatDate(sub.ended_at)}.` : 'No subscription yet.'),
    el('p', { class: 'muted' }, 'Choose a plan below to start: you pay on Stripe’s secure checkout page.'));
    return;
  }
  const item = planItem(sub) || {};
  if (sub.pending_change) {
    const c = sub.pending_change;
    const plan = planOfPrice(c.price_id);
    banners.append(el('div', { class: 'banner warn', role: 'alert', id: 'pending-banner' },
      el('span', {}, `Your change${plan ? ` to ${plan.name}` : ''} waits for a payment of ${formatMoney(c.amount_due, c.currency)}: `
        + `confirm it with your bank or use another card by ${formatDateTime(c.expires_at)}, or the change is dropped.`),
      c.hosted_invoice_url ? el('a', { class: 'button', id: 'complete-payment', href: c.hosted_invoice_url, target: '_blank',
        rel: 'noopener noreferrer' }, 'Complete payment') : null,
      el('button', { type: 'button', class: 'secondary', onclick: (ev) => openPortal('payment_method_update', ev.currentTarget) }, 'Update payment method')));
  }
  // An invoice waiting for the bank's confirmation (3-D Secure): its payment page, not a new card.
  const action = sub.payment_action || (awaitingPayment && sub.latest_invoice_id === awaitingPayment.invoice_id ? awaitingPayment : null);
  if (action && !sub.pending_change) {
    banners.append(el('div', { class: 'banner warn', role: 'alert', id: 'payment-action-banner' },
      el('span', {}, `Your bank needs you to confirm a payment of ${formatMoney(action.amount_due, action.currency)}. `
        + 'Until you do, it is unpaid.'),
      action.hosted_invoice_url ? el('a', { class: 'button', id: 'confirm-payment', href: action.hosted_invoice_url, target: '_blank',
        rel: 'noopener noreferrer' }, 'Confirm payment') : null));
  } else if (sub.past_due) {
    banners.append(el('div', { class: 'banner error', role: 'alert', id: 'past-due-banner' },
      el('span', {}, 'Your last payment failed. Update your payment method to keep your plan.'),
      el('button', { type: 'button', onclick: (ev) => openPortal('payment_method_update', ev.currentTarget) }, 'Update payment method')));
  }
  if (sub.scheduled_change) {
    const c = sub.scheduled_change;
    const what = c.product_name && c.product_name !== item.product_name ? `Moves to ${c.product_name}`
      : c.interval && c.interval !== item.interval ? `Switches to ${c.interval === 'year' ? 'annual' : 'monthly'} billing`
        : `Changes to ${c.quantity} seats`;
    banners.append(el('div', { class: 'banner info', id: 'scheduled-banner' },
      el('span', {}, `${what} on ${formatDate(c.effective_at)}.`),
      el('button', { type: 'button', class: 'secondary', onclick: (ev) => keepCurrentPlan(ev.currentTarget) }, 'Keep current plan')));
  }
  if (sub.cancel_at_period_end || sub.cancel_at) {
    banners.append(el('div', { class: 'banner warn', id: 'cancel-banner' },
      el('span', {}, `Your plan ends on ${formatDate(sub.cancel_at || item.current_period_end)}.`),
      el('button', { type: 'button', class: 'secondary', onclick: (ev) => resume(ev.currentTarget) }, 'Keep my plan')));
  }
  const price = item.amount != null ? `${formatMoney(item.amount, item.currency)} ${perInterval(item)}` : '';
  box.replaceChildren(...[
    el('p', {}, el('strong', { id: 'current-plan-name' }, item.product_name || 'Your plan'), ' ',
      el('span', { class: `badge ${sub.status}` }, sub.status.replace('_', ' '))),
    el('p', {}, price, item.quantity > 1 ? ` (${item.quantity} seats)` : ''),
    sub.trial_end && sub.status === 'trialing' ? el('p', {}, `Trial ends on ${formatDate(sub.trial_end)}.`) : null,
    item.current_period_end ? el('p', { class: 'muted' }, `Current period ends on ${formatDate(item.current_period_end)}.`) : null,
  ].filter(Boolean));
}

async function runAction(button, path, done) {
  button.disabled = true;
  try {
    await api('POST', path, {}, { 'Idempotency-Key': crypto.randomUUID() });
    await loadSubscriptionAndPlans();
    say(done);
  } catch (e) {
    showPageError(describeFailure(e));
    button.disabled = false;
  }
}
const keepCurrentPlan = (b) => runAction(b, `${account()}/subscription/cancel_scheduled_change`, 'The scheduled change was cancelled: your current plan continues.');
const resume = (b) => runAction(b, `${account()}/subscription/resume`, 'Your plan will renew as usual.');

// --- plans ---------------------------------------------------------------------------------------------------

// The plan item (role "plan"); metered items and add-ons are not "the plan".
function planItem(sub) {
  return sub && (sub.items.find((i) => i.role === 'plan') || sub.items.find((i) => i.role !== 'metered'));
}

function currentItem() {
  return hasCurrent() ? planItem(state.subscription) : null;
}

// The account's current subscription (not ended): the server says so (`current`).
function hasCurrent() {
  return Boolean(state.subscription && state.subscription.current !== false);
}

function planOfPrice(priceId) {
  return state.plans.find((p) => p.prices.some((pr) => pr.price_id === priceId));
}

function renderPlans() {
  document.getElementById('plans').hidden = false;
  const list = document.getElementById('plan-cards');
  list.replaceChildren();
  const current = currentItem();
  const active = state.subscription && ['active', 'trialing', 'past_due'].includes(state.subscription.status);
  for (const plan of state.plans) {
    const price = plan.prices.find((p) => p.interval === state.interval && (p.interval_count || 1) === 1);
    const isCurrent = price && price.current;
    let action = null;
    if (!price) {
      action = el('p', { class: 'muted' }, `Not available ${state.interval === 'year' ? 'annually' : 'monthly'}.`);
    } else if (isCurrent) {
      action = el('span', { class: 'badge current' }, 'Current plan');
    } else if (active && current && state.subscription.pending_change) {
      action = el('p', { class: 'muted' }, 'Waiting for the payment above.');
    } else if (active && current) {
      const label = changeLabel(current, price);
      action = el('button', { type: 'button', 'aria-label': `${label} to ${plan.name} (${price.interval === 'year' ? 'annual' : 'monthly'})`,
        onclick: (ev) => previewChange(plan, price, ev.currentTarget) }, label);
    } else if (!hasCurrent()) {
      action = el('button', { type: 'button', 'aria-label': `Choose ${plan.name} (${price.interval === 'year' ? 'annual' : 'monthly'})`,
        onclick: (ev) => startPlan(plan, price, ev.currentTarget) }, 'Choose');
    }
    list.append(el('li', { class: `card plan-card${isCurrent ? ' is-current' : ''}`, 'data-plan': plan.key || plan.product_id },
      el('h3', {}, plan.name),
      price ? el('p', { class: 'price' }, cardPriceText(price), ' ', el('span', { class: 'muted' }, perInterval(price))) : null,
      plan.description ? el('p', { class: 'muted' }, plan.description) : null,
      plan.features && plan.features.length ? el('ul', {}, plan.features.map((f) => el('li', {}, f))) : null,
      action));
  }
  if (!state.plans.length) list.append(el('li', { class: 'card' }, 'No plans are available yet.'));
}

// --- starting a subscription ---------------------------------------------------------------------------------

// Stripe Checkout makes the subscription; it arrives here through the webhook, so the page comes back to
// ?checkout=complete and waits for it.
async function startPlan(plan, price, button) {
  button.disabled = true;
  const here = location.origin + location.pathname;
  try {
    const session = await api('POST', `${account()}/checkout_session`,
      { price_id: price.price_id, success_url: `${here}?checkout=complete`, cancel_url: here });
    location.assign(session.url);
  } catch (e) {
    showPageError(`Checkout could not be opened: ${describeFailure(e)}`);
    button.disabled = false;
  }
}

// Reloads the subscription every second until `done(subscription)` holds, for at most `seconds`.
async function waitFor(done, seconds) {
  for (let i = 0; i < seconds; i++) {
    const sub = (await api('GET', `${account()}/subscription`)).subscription;
    if (done(sub)) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

async function afterCheckout() {
  history.replaceState(null, '', location.pathname);
  let started = hasCurrent();  // the webhook may have been quicker than the page
  if (!started) {
    say('Setting up your subscription…');
    started = await waitFor((sub) => sub && sub.current !== false, 60);
    await loadSubscriptionAndPlans();
  }
  const item = currentItem();
  say(started ? `Welcome to ${item && item.product_name ? item.product_name : 'your plan'}.`
    : 'Your payment went through; your subscription will show here within a few minutes. Reload to check.');
}

// While a change waits for its payment (the customer confirms it in another tab), check for it to apply.
let watchingPayment = false;
async function watchPendingPayment() {
  if (watchingPayment) return;
  watchingPayment = true;
  try {
    const applied = await waitFor((sub) => !sub || !sub.pending_change, 600);
    await loadSubscriptionAndPlans();
    const item = currentItem();
    if (applied && item) say(`You're now on ${item.product_name}.`);
  } catch (e) {
    showPageError(describeFailure(e));
  } finally {
    watchingPayment = false;
  }
}

// --- preview and change --------------------------------------------------------------------------------------

let pending = null;  // { preview, opener }
// A change applied whose invoice waits for the bank (3-D Secure), from the change's answer: shown until the read
// has it too (the webhook's event may come after the answer).
let awaitingPayment = null;

async function previewChange(plan, price, button) {
  button.disabled = true;
  const quantity = (currentItem() && currentItem().quantity) || 1;
  try {
    const preview = await api('POST', `${account()}/subscription/preview`, { price_id: price.price_id, quantity });
    openDialog(plan, price, preview, button);
  } catch (e) {
    showPageError(`The change could not be previewed: ${describeFailure(e)}`);
  } finally {
    button.disabled = false;
  }
}

function openDialog(plan, price, preview, opener) {
  const money = (v) => formatMoney(v, preview.currency);
  const dialog = document.getElementById('change-dialog');
  document.getElementById('change-title').textContent =
    `${preview.kind === 'upgrade' ? 'Upgrade' : 'Downgrade'} to ${plan.name} (${price.interval === 'year' ? 'annual' : 'monthly'})`;
  const summary = document.getElementById('change-summary');
  const details = document.getElementById('change-details');
  details.replaceChildren();
  const row = (label, value, id) => details.append(el('dt', {}, label), el('dd', { id }, value));
  if (preview.kind === 'upgrade') {
    summary.textContent = upgradeSummaryText(preview, money);
    // Stripe's invoice of now, part by part; the parts add up to what is due (a part that is zero is left out).
    if (preview.proration_charge) row('New plan for the rest of the period', money(preview.proration_charge), 'preview-charge');
    if (preview.new_period_charge) row(`New plan, first ${price.interval === 'year' ? 'year' : 'month'}`, money(preview.new_period_charge), 'preview-new-period');
    if (preview.proration_credit) row('Credit for unused time', `−${money(preview.proration_credit)}`, 'preview-credit');
    if (preview.usage_charge) row('Usage so far', money(preview.usage_charge), 'preview-usage');
    if (preview.other_charges) row('Other charges', money(preview.other_charges), 'preview-other');
    if (preview.discount) row('Discount', `−${money(preview.discount)}`, 'preview-discount');
    if (preview.tax) row('Tax', money(preview.tax), 'preview-tax');
    if (preview.balance_applied < 0) row('Credit from your balance', `−${money(-preview.balance_applied)}`, 'preview-balance');
    if (preview.balance_applied > 0) row('Balance owed', money(preview.balance_applied), 'preview-balance');
    row('Due today', money(preview.amount_due_now), 'preview-due');
  } else {
    summary.textContent = `Your plan changes on ${formatDate(preview.effective_at)}, no charge today.`;
    row('Due today', money(0), 'preview-due');
  }
  row('Then each period', money(preview.next_invoice_total), 'preview-next');
  document.getElementById('change-error').hidden = true;
  document.getElementById('change-confirm').disabled = false;
  pending = { preview, opener, plan, price };
  dialog.showModal();
  document.getElementById('change-confirm').focus();
}

function closeDialog() {
  const dialog = document.getElementById('change-dialog');
  if (dialog.open) dialog.close();
  if (pending && pending.opener && document.body.contains(pending.opener)) pending.opener.focus();
  pending = null;
}

function changeError(e) {
  const box = document.getElementById('change-error');
  let message = describeFailure(e);
  let action = null;
  if (e.status === 402 && e.code === 'authentication_required') {
    // A plan with usage billing can't wait for the bank: the customer may change now and confirm right after.
    message = 'Your bank needs you to confirm this payment. Your plan has not changed. You can change it now and '
      + 'confirm the payment with your bank right after.';
    action = el('button', { type: 'button', id: 'change-then-confirm', onclick: (ev) => confirmChange(ev, { authenticateAfter: true }) },
      'Change now, then confirm payment');
  } else if (e.status === 402) {
    message = `Your payment didn't go through: ${e.message} Your plan has not changed.`;
    action = el('button', { type: 'button', class: 'secondary', onclick: (ev) => openPortal('payment_method_update', ev.currentTarget) }, 'Update payment method');
  } else if (e.code === 'preview_invalid' || e.code === 'preview_stale') {
    message = e.code === 'preview_invalid' ? 'This preview has expired.' : 'Your subscription changed since this preview.';
    action = el('button', { type: 'button', class: 'secondary', onclick: () => { const { plan, price, opener } = pending; closeDialog(); previewChange(plan, price, opener); } }, 'Preview again');
  } else if (e.code === 'change_in_progress') {
    message = 'Another change of your plan is being applied. Reload the page to see it.';
  } else if (e.code === 'schedule_not_ours') {
    message = 'Your subscription follows a contract set up by our team; contact us to change it.';
  } else if (e.code === 'cancellation_pending') {
    message = 'Your subscription is set to end. Resume it first, then change your plan.';
  } else if (e.code === 'scheduled_change_pending') {
    message = 'A plan change is already scheduled. Keep your current plan first (the banner above), then try again.';
  } else if (e.code === 'payment_pending') {
    message = 'A plan change waits for its payment (the banner above): complete it, or wait until it expires.';
  } else if (e.code === 'plans_incompatible' || e.code === 'usage_would_be_lost') {
    message = `${e.message}.`;
  }
  box.replaceChildren(...[el('span', {}, message), action].filter(Boolean));
  box.hidden = false;
}

async function confirmChange(event, options = {}) {
  event.preventDefault();
  if (!pending) return;
  const confirm = document.getElementById('change-confirm');
  confirm.disabled = true;
  // One key per attempt: a retried request (a lost answer) is applied once.
  const key = pending.key || (pending.key = crypto.randomUUID());
  try {
    const body = { preview_token: pending.preview.preview_token };
    if (options.authenticateAfter) body.authenticate_after_change = true;
    const answer = await api('POST', `${account()}/subscription/change`, body, { 'Idempotency-Key': key });
    const { plan, preview } = pending;
    closeDialog();
    if (answer.outcome === 'applied_awaiting_payment') awaitingPayment = answer.payment;
    await loadSubscriptionAndPlans();
    if (answer.outcome === 'applied_awaiting_payment') {
      say(`You're now on ${plan.name}. Confirm the payment with your bank: use “Confirm payment” above.`);
      document.getElementById('confirm-payment')?.focus();
      return;
    }
    if (answer.outcome === 'payment_required') {
      // Not applied: Stripe keeps it until the invoice is paid (3-D Secure, or another card), then applies it.
      say(`Your payment for ${plan.name} needs your attention: use “Complete payment” above.`);
      document.getElementById('complete-payment')?.focus();
      watchPendingPayment();
      return;
    }
    say(preview.kind === 'upgrade' ? appliedChangeText(answer, plan.name)
      : `Your plan will change to ${plan.name} on ${formatDate(preview.effective_at)}.`);
  } catch (e) {
    // A definite answer (a declined card, a stale preview) ends this attempt: the next click is a new one, with a
    // new key (else Stripe would replay the saved decline for 24 hours). Without an answer (network, 5xx) the
    // outcome is unknown: the same key again, so the change happens at most once.
    if (e.status && e.status < 500) pending.key = null;
    changeError(e);
    confirm.disabled = false;
  }
}

// --- usage ---------------------------------------------------------------------------------------------------

function bars(daily, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${Math.max(daily.length, 1) * 10} 60`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const max = Math.max(1, ...daily.map((d) => d.value));
  daily.forEach((d, i) => {
    const h = Math.max(1, Math.round((d.value / max) * 56));
    const rect = document.createElementNS(ns, 'rect');
    rect.setAttribute('x', String(i * 10 + 1));
    rect.setAttribute('y', String(60 - h));
    rect.setAttribute('width', '8');
    rect.setAttribute('height', String(h));
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${d.date}: ${d.value.toLocaleString()}`;
    rect.append(title);
    svg.append(rect);
  });
  return svg;
}

function renderUsage(usage) {
  const section = document.getElementById('usage');
  if (!usage.meters.length) { section.hidden = true; return; }
  section.hidden = false;
  document.getElementById('usage-period').textContent = usagePeriodText(usage);
  const box = document.getElementById('usage-meters');
  box.replaceChildren(...usage.meters.map((m) => el('div', { class: 'card meter', 'data-meter': m.event_name },
    el('h3', {}, m.event_name.replace(/_/g, ' ')),
    el('p', { class: 'price' }, Number(m.total).toLocaleString()),
    meterNotBilledText(m)
      ? el('p', { class: 'banner warn meter-not-billed' }, meterNotBilledText(m))
      : el('p', { class: 'muted' }, `${Number(m.reported).toLocaleString()} reported to billing, ${Number(m.pending).toLocaleString()} pending`),
    m.daily.length ? bars(m.daily, `${m.event_name} per day: ${m.daily.map((d) => `${d.date} ${d.value}`).join(', ')}`) : el('p', { class: 'muted' }, usage.period_kind === 'calendar_month' ? 'No usage yet this month.' : 'No usage yet this period.'))));
  if (usage.meter_errors.length) {
    box.append(el('div', { class: 'banner warn' }, el('span', {},
      `${usage.meter_errors.length} usage report(s) were refused by billing (latest: ${usage.meter_errors[0].message}).`)));
  }
}

// --- invoices ------------------------------------------------------------------------------------------------

async function loadInvoices() {
  const cursor = state.pages[state.page];
  const page = await api('GET', `${account()}/invoices?limit=10${cursor ? `&starting_after=${encodeURIComponent(cursor)}` : ''}`);
  document.getElementById('invoices').hidden = false;
  const body = document.getElementById('invoices-body');
  if (!page.data.length) {
    body.replaceChildren(el('p', { class: 'card muted', id: 'invoices-empty' }, 'No invoices yet.'));
  } else {
    body.replaceChildren(el('table', {},
      el('caption', { class: 'visually-hidden' }, 'Invoices, newest first'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Date'), el('th', { scope: 'col', class: 'hide-narrow' }, 'Number'),
        el('th', { scope: 'col', class: 'amount' }, 'Amount'), el('th', { scope: 'col' }, 'Status'), el('th', { scope: 'col' }, 'Links'))),
      el('tbody', {}, page.data.map((inv) => el('tr', { 'data-invoice': inv.id },
        el('td', {}, formatDate(inv.created)),
        el('td', { class: 'hide-narrow' }, inv.number || '—'),
        el('td', { class: 'amount' }, formatMoney(inv.total, inv.currency)),
        el('td', {}, el('span', { class: `badge ${inv.status}` }, inv.status)),
        el('td', {},
          inv.hosted_invoice_url ? el('a', { href: inv.hosted_invoice_url, target: '_blank', rel: 'noopener noreferrer',
            'aria-label': `View invoice ${inv.number || inv.id}` }, 'View') : null,
          inv.hosted_invoice_url && inv.invoice_pdf ? ' · ' : null,
          inv.invoice_pdf ? el('a', { href: inv.invoice_pdf, target: '_blank', rel: 'noopener noreferrer',
            'aria-label': `Download invoice ${inv.number || inv.id} as PDF` }, 'PDF') : null))))));
  }
  const next = document.getElementById('invoices-next');
  next.disabled = !page.has_more;
  next.onclick = () => { state.pages[state.page + 1] = page.data[page.data.length - 1].id; state.page += 1; loadInvoices().catch(showSectionError); };
  const prev = document.getElementById('invoices-prev');
  prev.disabled = state.page === 0;
  prev.onclick = () => { state.page -= 1; loadInvoices().catch(showSectionError); };
}

function showSectionError(e) { showPageError(describeFailure(e)); }

// --- loading -------------------------------------------------------------------------------------------------

async function loadSubscriptionAndPlans() {
  const [sub, plans] = await Promise.all([api('GET', `${account()}/subscription`), api('GET', `${account()}/plans`)]);
  state.subscription = sub.subscription;
  state.plans = plans.plans;
  const item = currentItem();
  if (item && item.interval && !state.intervalChosen) {
    state.interval = item.interval === 'year' ? 'year' : 'month';
    document.getElementById(`interval-${state.interval}`).checked = true;
  }
  renderSubscription();
  renderPlans();
  if (state.subscription && state.subscription.pending_change) watchPendingPayment();
}

async function main() {
  const found = readToken();
  const mainEl = document.getElementById('main');
  if (!found) {
    say('');
    showPageError('Open this page from your app: it needs a billing link for your account.');
    mainEl.setAttribute('aria-busy', 'false');
    return;
  }
  state.token = found.token;
  state.account = found.account;
  document.getElementById('change-form').addEventListener('submit', confirmChange);
  document.getElementById('change-cancel').addEventListener('click', closeDialog);
  document.getElementById('change-dialog').addEventListener('cancel', (e) => { e.preventDefault(); closeDialog(); });
  const manage = document.getElementById('manage-billing');
  manage.addEventListener('click', () => openPortal(null, manage));
  for (const radio of document.querySelectorAll('input[name=interval]')) {
    radio.addEventListener('change', () => { state.interval = radio.value; state.intervalChosen = true; renderPlans(); });
  }
  const results = await Promise.allSettled([
    loadSubscriptionAndPlans(),
    api('GET', `${account()}/usage`).then(renderUsage),
    loadInvoices(),
  ]);
  const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
  manage.disabled = false;
  mainEl.setAttribute('aria-busy', 'false');
  if (failures.length) {
    say('');
    showPageError(describeFailure(failures[0]));
  } else {
    say('');
    if (new URLSearchParams(location.search).get('checkout') === 'complete') afterCheckout().catch(showSectionError);
  }
}

if (typeof document !== 'undefined') {
  // A new link (another account's token) in the same tab: start over with it.
  window.addEventListener('hashchange', () => { if (location.hash.includes('token=')) location.reload(); });
  main();
}
