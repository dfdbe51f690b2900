// The billing page's money and date formatting (web/billing.js), in Node: Stripe's minor units per currency.
import assert from 'node:assert/strict';
import { formatMoney, formatDate, minorUnitDigits, usagePeriodText, cardPriceText } from '../../web/billing.js';

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
check('dates in the viewer locale, UTC', () => {
  assert.equal(formatDate('2027-03-01T00:00:00Z', 'en-GB'), '1 March 2027');
  assert.equal(formatDate('2027-03-01T00:00:00Z', 'en-US'), 'March 1, 2027');
  assert.equal(formatDate(null, 'en-US'), '');
});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
