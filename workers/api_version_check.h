#pragma once
#include "stripe/stripe_client.h"

namespace billing::workers {

/// Lists the account's webhook endpoints and warns (log + gauge billing_sync_webhook_endpoints_other_api_version)
/// about every enabled one that renders events at another API version than ours: their payloads can't be written as
/// they are, every such event costs a fetch from Stripe (a backlog under ordinary traffic). Stripe renders an
/// endpoint's events at its `api_version`, or the account's default when that is null
/// (https://docs.stripe.com/webhooks/versioning). Never throws: a failed check is logged.
void warnAboutEndpointApiVersions(stripe::StripeClient& stripe);

}  // namespace billing::workers
