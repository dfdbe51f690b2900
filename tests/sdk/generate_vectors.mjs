// Generates Stripe-Signature test vectors whose verdicts come from the official stripe npm package (the reference
// verifier): headers from stripe.webhooks.generateTestHeaderString, verdicts from stripe.webhooks.constructEvent
// (snapshot events) or stripe.parseEventNotification (thin events), both with a fixed receivedAt.
//
//   node generate_vectors.mjs OUT.json          write the vectors
//   node generate_vectors.mjs --check IN.json   regenerate and fail if IN.json differs (the committed file is honest)
//
// Deterministic: fixed secrets, timestamps and payloads, so the output only changes when the SDK's verdicts do.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const here = path.dirname(fileURLToPath(import.meta.url));
const eventsDir = path.join(here, '..', 'fixtures', 'stripe', 'events');
const stripe = new Stripe('sk_test_vectors');

const NOW = 1780500000;  // receivedAt for every vector, unix seconds
const S1 = 'whsec_test_primary_Xk3mP9qLr2Vt8Wz1';
const S2 = 'whsec_test_rotated_Bn7Hd4Js0Kf6Yc5e';
const WRONG = 'whsec_test_attacker_Qq1Ww2Ee3Rr4Tt5y';

const snapshot = fs.readFileSync(path.join(eventsDir, 'customer.created.json'), 'utf8');
const thin = fs.readFileSync(path.join(eventsDir, 'v1.billing.meter.error_report_triggered.json'), 'utf8');
const sign = (payload, secret, timestamp, scheme) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp, scheme });
const sigOf = (header) => header.split(',').find((p) => /^v[01]=/.test(p)).slice(3);

// Maps the SDK's error messages to our reason codes.
function reasonOf(error) {
  const m = String(error && error.message);
  if (m.startsWith('No stripe-signature header value was provided')) return 'missing_header';
  if (m.startsWith('Unable to extract timestamp and signatures from header')) return 'malformed_header';
  if (m.startsWith('No signatures found with expected scheme')) return 'no_v1_signature';
  if (m.startsWith('No signatures found matching the expected signature')) return 'no_matching_signature';
  if (m.startsWith('Timestamp outside the tolerance zone')) return 'timestamp_outside_tolerance';
  if (m.startsWith('No webhook payload was provided')) return 'no_payload';
  if (error instanceof SyntaxError) return 'invalid_json';
  if (m.startsWith('Unexpected object type')) return 'not_an_event';
  return 'sdk_exception';
}

function sdkVerdictFor(payload, header, secret, tolerance) {
  let isThin = false;
  try { isThin = JSON.parse(payload).object === 'v2.core.event'; } catch { /* constructEvent reports it */ }
  try {
    if (isThin) stripe.parseEventNotification(payload, header, secret, tolerance, undefined, NOW * 1000);
    else stripe.webhooks.constructEvent(payload, header, secret, tolerance, undefined, NOW * 1000);
    return { accepted: true, reason: 'valid' };
  } catch (e) {
    return { accepted: false, reason: reasonOf(e) };
  }
}

// Several secrets: accepted if any secret accepts (what the receiver does). Otherwise the reason of a secret whose
// signature matched (then only the timestamp can have failed), else the first secret's reason.
function sdkVerdict(payload, header, secrets, tolerance) {
  const each = secrets.map((s) => sdkVerdictFor(payload, header, s, tolerance));
  const ok = each.find((v) => v.accepted);
  if (ok) return ok;
  return each.find((v) => v.reason === 'timestamp_outside_tolerance') || each[0];
}

const cases = [];
function add(name, { payload = snapshot, header, secrets = [S1], tolerance = 300, ours }) {
  const sdk = sdkVerdict(payload, header, secrets, tolerance);
  const v = { name, payload, header, secrets, tolerance, now: NOW, sdk };
  // Where we are deliberately stricter than stripe-node, `ours` says what the receiver answers instead.
  if (ours) v.ours = ours;
  cases.push(v);
}

const good = sign(snapshot, S1, NOW);
const goodSig = sigOf(good);
const otherSig = sigOf(sign(snapshot, S1, NOW - 1));

add('valid', { header: good });
add('valid_second_secret_during_rotation', { header: sign(snapshot, S2, NOW), secrets: [S1, S2] });
add('valid_first_of_two_secrets', { header: good, secrets: [S1, S2] });
add('wrong_secret', { header: sign(snapshot, WRONG, NOW), secrets: [S1, S2] });
add('tampered_body_amount', { payload: snapshot.replace('"balance": 0', '"balance": 1'), header: good });
add('tampered_body_reserialized', { payload: JSON.stringify(JSON.parse(snapshot)), header: good });
add('tampered_body_trailing_newline', { payload: snapshot + '\n', header: good });
add('too_old', { header: sign(snapshot, S1, NOW - 301) });
add('exactly_at_tolerance', { header: sign(snapshot, S1, NOW - 300) });
add('future_timestamp_is_accepted_like_the_sdks', { header: sign(snapshot, S1, NOW + 3600) });
add('too_old_and_wrong_secret_reports_signature_first', { header: sign(snapshot, WRONG, NOW - 1000) });
add('custom_tolerance_600_accepts_500s', { header: sign(snapshot, S1, NOW - 500), tolerance: 600 });
add('custom_tolerance_60_refuses_61s', { header: sign(snapshot, S1, NOW - 61), tolerance: 60 });
add('old_event_signed_by_second_secret', { header: sign(snapshot, S2, NOW - 400), secrets: [S1, S2] });
add('several_v1_one_valid', { header: `t=${NOW},v1=${otherSig},v1=${goodSig},v1=${'0'.repeat(64)}` });
add('several_v1_none_valid', { header: `t=${NOW},v1=${otherSig},v1=${'0'.repeat(64)}` });
add('v0_only', { header: sign(snapshot, S1, NOW, 'v0') });
add('v0_and_v1', { header: `t=${NOW},v0=${'f'.repeat(64)},v1=${goodSig}` });
add('unknown_scheme_ignored', { header: `t=${NOW},v2=${'a'.repeat(64)},v1=${goodSig}` });
add('signature_before_timestamp', { header: `v1=${goodSig},t=${NOW}` });
add('missing_timestamp', { header: `v1=${goodSig}` });
add('empty_header', { header: '' });
add('garbage_header', { header: 'not a signature header' });
add('space_after_comma_is_not_trimmed', { header: `t=${NOW}, v1=${goodSig}` });
add('uppercase_hex', { header: `t=${NOW},v1=${goodSig.toUpperCase()}` });
add('truncated_signature', { header: `t=${NOW},v1=${goodSig.slice(0, 63)}` });
add('signature_with_extra_byte', { header: `t=${NOW},v1=${goodSig}0` });
add('value_after_second_equals_is_ignored', { header: `t=${NOW},v1=${goodSig}=trailing` });
add('last_timestamp_wins', { header: `t=${NOW},v1=${goodSig},t=${NOW + 5}` });
add('negative_timestamp', { header: `t=-1,v1=${goodSig}` });
add('semicolon_separator', { header: `t=${NOW};v1=${goodSig}`, ours: 'malformed_header' });
add('empty_timestamp', { header: `t=,v1=${goodSig}`, ours: 'malformed_header' });
// stripe-node's parseInt turns "abc" into NaN and signs "NaN.<body>"; stripe-go refuses such headers. We refuse too.
add('non_numeric_timestamp_signed_over_NaN', {
  header: `t=abc,v1=${crypto.createHmac('sha256', S1).update(`NaN.${snapshot}`).digest('hex')}`,
  ours: 'malformed_header',
});
add('timestamp_with_suffix', { header: `t=${NOW}abc,v1=${goodSig}`, ours: 'malformed_header' });
add('huge_header_valid_signature_last', {
  header: `t=${NOW},` + Array.from({ length: 500 }, (_, i) => `v1=${(i % 10).toString().repeat(64)}`).join(',') + `,v1=${goodSig}`,
});
add('huge_garbage_header', { header: 'x'.repeat(65536) });
add('thin_event_valid', { payload: thin, header: sign(thin, S1, NOW) });
add('thin_event_too_old', { payload: thin, header: sign(thin, S1, NOW - 3600) });
add('thin_event_wrong_secret', { payload: thin, header: sign(thin, WRONG, NOW) });
add('signed_body_not_json', { payload: 'hello, not json', header: sign('hello, not json', S1, NOW) });
add('signed_empty_body', { payload: '', header: sign('', S1, NOW), ours: 'invalid_json' });
add('signed_json_that_is_not_an_event', {
  payload: '{"hello":"world"}', header: sign('{"hello":"world"}', S1, NOW), ours: 'not_an_event',
});

const doc = {
  generated_by: `stripe@${JSON.parse(fs.readFileSync(path.join(here, 'node_modules', 'stripe', 'package.json'))).version}`,
  note: 'sdk = verdict of stripe-node; ours (when present) = where the receiver is deliberately stricter',
  vectors: cases,
};
const text = JSON.stringify(doc, null, 1) + '\n';

const args = process.argv.slice(2);
if (args[0] === '--check') {
  const committed = fs.readFileSync(args[1], 'utf8');
  if (committed !== text) {
    console.error(`${args[1]} differs from what stripe-node produces now; regenerate it with: node ${path.relative(process.cwd(), fileURLToPath(import.meta.url))} ${args[1]}`);
    process.exit(1);
  }
  console.log(`${cases.length} vectors match stripe-node's verdicts`);
} else {
  fs.writeFileSync(args[0], text);
  console.log(`wrote ${cases.length} vectors to ${args[0]}`);
}
