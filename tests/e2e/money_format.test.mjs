// The billing page's money and date formatting (web/billing.js), in Node: Stripe's minor units per currency.
import assert from 'node:assert/strict';
import { formatMoney, formatDate, minorUnitDigits, usagePeriodText, cardPriceText, meterNotBilledText, upgradeSummaryText, appliedChangeText } from '../../web/billing.js';

let passed = 0;
let failed = 0;
function check(name, body) {
  try { body(); passed++; } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}

check('two-decimal currencies', () => {
  assert.equal(formatMoney(2900, 'usd', 'en-US'), '$29.00');
  assert.equal(formatMoney(-1933, 'usd', 'en-US'), '-$19.33');
  assert.equal(formatMoney(123456, 'eur', 'de-DE'), '1.234,56\u00a0€');
});
check('zero-decimal currencies are whole units', () => {
  assert.equal(minorUnitDigits('jpy'), 0);
  assert.equal(formatMoney(500, 'jpy', 'en-US'), '¥500');
  assert.equal(formatMoney(1200, 'krw', 'en-US'), '₩1,200');
});
check('three-decimal currencies', () => {
  assert.equal(minorUnitDigits('kwd'), 3);
  assert.equal(formatMoney(12345, 'kwd', 'en-US'), 'KWD\u00a012.345');
});
check('unknown currency codes still show a number', () => {
  assert.match(formatMoney(100, 'zzz', 'en-US'), /1\.00/);
});
check('plan card prices: the server\'s amount, a tiered price as a "from", never 0 for an unpriceable one', () => {
  assert.match(cardPriceText({ amount: 2900, currency: 'usd', pricing: 'per_unit' }), /^\$29\.00$/);
  assert.match(cardPriceText({ amount: 700, currency: 'usd', pricing: 'tiered' }), /^From \$7\.00$/);
  assert.equal(cardPriceText({ amount: null, unit_amount: null, currency: 'usd', pricing: 'tiered' }), 'Price shown before you confirm');
});
check('usage period: the billing period, or none yet without a subscription', () => {
  assert.equal(usagePeriodText({ period_kind: 'subscription', period_start: '2027-03-01T00:00:00Z',
    period_end: '2027-04-01T00:00:00Z' }, 'en-US'), 'March 1, 2027 – April 1, 2027');
  assert.equal(usagePeriodText({ period_kind: 'calendar_month', period_start: '2027-03-01T00:00:00Z',
    period_end: '2027-04-01T00:00:00Z' }, 'en-US'), 'No billing period yet: there is no subscription. Usage of March 2027 so far.');
});
check('usage no invoice bills is said on its meter, never shown as reported', () => {
  assert.equal(meterNotBilledText({ billed_on_plan: true }), '');
  assert.equal(meterNotBilledText({ billed_on_plan: false, not_billed_reason: 'meter_not_on_plan' }),
    'Not billed: your plan has no price for this usage.');
  assert.equal(meterNotBilledText({ billed_on_plan: false, not_billed_reason: 'no_billable_subscription' }),
    'Not billed: there is no subscription to bill it.');
});
check('an upgrade says how it is paid: card now, an invoice by its terms, a bank debit over days', () => {
  const money = (v) => formatMoney(v, 'usd', 'en-US');
  const preview = { amount_due_now: 1500, proration_credit: 500 };
  assert.equal(upgradeSummaryText({ ...preview, collection: 'charge' }, money), "You'll be charged $15.00 today, including $5.00 credit for unused time.");
  assert.equal(upgradeSummaryText({ ...preview, collection: 'invoice' }, money), "You'll be sent an invoice for $15.00, including $5.00 credit for unused time, payable by your invoice terms.");
  assert.match(upgradeSummaryText({ ...preview, collection: 'bank_debit' }, money), /^\$15\.00 will be debited from your bank account/);
  assert.equal(appliedChangeText({ outcome: 'invoiced', invoice: { amount_due: 1500, currency: 'usd', due_date: '2027-04-01T00:00:00Z' } }, 'Pro', 'en-US'),
    "You're now on Pro. Its invoice for $15.00 is sent, due April 1, 2027.");
  assert.equal(appliedChangeText({ outcome: 'applied' }, 'Pro', 'en-US'), "You're now on Pro.");
});
check('dates in the viewer locale, UTC', () => {
  assert.equal(formatDate('2027-03-01T00:00:00Z', 'en-GB'), '1 March 2027');
  assert.equal(formatDate('2027-03-01T00:00:00Z', 'en-US'), 'March 1, 2027');
  assert.equal(formatDate(null, 'en-US'), '');
});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
