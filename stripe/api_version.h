#pragma once

namespace billing::stripe {

/// The one Stripe API version this code is written against: sent as Stripe-Version on every request, and the shape
/// of every object we parse (tests/fixtures/stripe holds samples at this version).
inline constexpr const char* kApiVersion = "2026-07-29.dahlia";

}  // namespace billing::stripe
