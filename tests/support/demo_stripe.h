#pragma once
#include <cstdint>

#include "tests/support/fake_stripe.h"

namespace billing::testing {

/// A small Stripe account for the demo (scripts/run.sh without Stripe keys) and the browser tests, put into the
/// Stripe fake with the shapes of Stripe's own fixtures (tests/fixtures/stripe/events): Starter, Pro and Business
/// with monthly and annual prices, and customers
///   cus_demo            Pro monthly, 12 paid invoices
///   cus_demo_declined   Starter monthly, every charge declined
///   cus_demo_new        Starter monthly, no invoices yet
///   cus_demo_past_due   Pro monthly, past due with an open invoice
/// each subscription in a period around `now` (10 days in, 20 to go).
void seedDemoAccount(FakeStripe& fake, std::int64_t now);

}  // namespace billing::testing
