# `tofu test` with a mocked stripe/stripe provider (its real schema: tofu init with the provider built from
# ../shared/vendor, see README.md). The runs share one state, in order: the first applies the whole configuration,
# the next three walk the API version upgrade of docs/deploy.md, the rest are the refusals the variables promise.
# Ids and secrets the mock generates are random, so "kept" and "replaced" are told apart by comparing them.
mock_provider "stripe" {
  mock_resource "stripe_product" {
    defaults = { id = "prod_mock" }
  }
  mock_resource "stripe_price" {
    defaults = { id = "price_mock" }
  }
  mock_resource "stripe_billing_meter" {
    defaults = { id = "mtr_mock" }
  }
}

variables {
  webhook_url = "https://billing-hooks.example.com/webhooks/stripe"
}

run "catalog_meter_portal_webhook" {
  command = apply

  assert {
    condition     = length(stripe_price.plan) == 6
    error_message = "a monthly and an annual price per plan"
  }
  assert {
    condition     = stripe_price.plan["pro_annual"].recurring[0].interval == "year"
    error_message = "annual prices bill yearly"
  }
  assert {
    condition     = stripe_product.plan["pro"].metadata["limit_projects"] == "20"
    error_message = "limits reach the product metadata the API reads"
  }
  assert {
    condition     = stripe_price.usage.recurring[0].usage_type == "metered" && stripe_price.usage.recurring[0].meter == "mtr_mock"
    error_message = "the usage price is metered on the meter"
  }
  assert {
    condition     = length(stripe_billing_portal_configuration.portal.features.subscription_update.products) == 3
    error_message = "the portal switches between every plan"
  }
  assert {
    condition     = alltrue([for p in stripe_billing_portal_configuration.portal.features.subscription_update.products : length(p.prices) == 2])
    error_message = "each plan offers its monthly and annual price in the portal"
  }
  assert {
    condition     = stripe_billing_portal_configuration.portal.features.subscription_cancel.mode == "at_period_end"
    error_message = "the portal cancels at the period end"
  }
  assert {
    condition     = keys(stripe_webhook_endpoint.billing) == ["2026-07-29.dahlia"]
    error_message = "one webhook endpoint, at the pinned API version"
  }
  assert {
    condition     = stripe_webhook_endpoint.billing["2026-07-29.dahlia"].api_version == "2026-07-29.dahlia"
    error_message = "the webhook endpoint renders events at the pinned API version"
  }
  assert {
    condition     = length(stripe_webhook_endpoint.billing["2026-07-29.dahlia"].enabled_events) == 42
    error_message = "subscribed to exactly the event types the workers handle"
  }
  assert {
    condition = (stripe_v2_core_event_destination.meter_errors.event_payload == "thin" &&
      stripe_v2_core_event_destination.meter_errors.type == "webhook_endpoint" &&
    stripe_v2_core_event_destination.meter_errors.webhook_endpoint[0].url == var.webhook_url)
    error_message = "thin meter error events go to the same receiver through an event destination"
  }
  assert {
    condition     = length(split("\n", nonsensitive(output.webhook_secrets))) == 2
    error_message = "webhook_secrets: the endpoint's and the event destination's"
  }
  assert {
    condition = (split("\n", nonsensitive(output.webhook_secrets))[0] == nonsensitive(stripe_webhook_endpoint.billing["2026-07-29.dahlia"].secret) &&
    split("\n", nonsensitive(output.webhook_secrets))[1] == nonsensitive(stripe_v2_core_event_destination.meter_errors.webhook_endpoint[0].signing_secret))
    error_message = "webhook_secrets: the endpoint's first, then the event destination's"
  }
}

# Step 1 of an API version upgrade: the new version's endpoint is created and the old one kept, with its secret,
# so the receivers can be given both before anything is signed with a secret they don't know.
run "upgrade_adds_the_new_endpoint_and_keeps_the_old" {
  command = apply
  variables {
    api_version          = "2026-10-28.endive"
    previous_api_version = "2026-07-29.dahlia"
    # What step 0 left (test-only variables: OpenTofu evaluates run.* here, not in assertions).
    step0_endpoint_id       = run.catalog_meter_portal_webhook.webhook_endpoint_ids["2026-07-29.dahlia"]
    step0_secrets           = run.catalog_meter_portal_webhook.webhook_secrets
    step0_event_destination = run.catalog_meter_portal_webhook.event_destination_id
  }

  assert {
    condition     = length(stripe_webhook_endpoint.billing) == 2
    error_message = "both endpoints exist during the upgrade"
  }
  assert {
    condition     = output.webhook_endpoint_ids["2026-07-29.dahlia"] == var.step0_endpoint_id
    error_message = "the old endpoint is the same object (not replaced)"
  }
  assert {
    condition = (split("\n", nonsensitive(output.webhook_secrets))[1] ==
    split("\n", nonsensitive(var.step0_secrets))[0])
    error_message = "the old secret stays valid, second in webhook_secrets"
  }
  assert {
    condition = (length(split("\n", nonsensitive(output.webhook_secrets))) == 3 &&
    split("\n", nonsensitive(output.webhook_secrets))[0] == nonsensitive(stripe_webhook_endpoint.billing["2026-10-28.endive"].secret))
    error_message = "the new endpoint's secret comes first, then the old one's, then the event destination's"
  }
  assert {
    condition     = output.event_destination_id == var.step0_event_destination
    error_message = "the event destination is untouched by an API version upgrade (thin events carry no version)"
  }
}

# Step 2: once the receivers have both secrets, the old endpoint goes.
run "upgrade_retires_the_old_endpoint" {
  command = apply
  variables {
    api_version       = "2026-10-28.endive"
    step1_endpoint_id = run.upgrade_adds_the_new_endpoint_and_keeps_the_old.webhook_endpoint_ids["2026-10-28.endive"]
  }

  assert {
    condition     = keys(stripe_webhook_endpoint.billing) == ["2026-10-28.endive"]
    error_message = "only the new version's endpoint is left"
  }
  assert {
    condition     = output.webhook_endpoint_ids["2026-10-28.endive"] == var.step1_endpoint_id
    error_message = "the new endpoint is kept as it was created in step 1"
  }
  assert {
    condition     = length(split("\n", nonsensitive(output.webhook_secrets))) == 2
    error_message = "webhook_secrets drops the old endpoint's secret"
  }
}

run "refuses_a_webhook_url_elsewhere" {
  command = plan
  variables {
    webhook_url = "http://billing.example.com/hooks"
  }
  expect_failures = [var.webhook_url]
}

run "refuses_retiring_the_current_version" {
  command = plan
  variables {
    previous_api_version = "2026-07-29.dahlia"
  }
  expect_failures = [var.previous_api_version]
}

run "refuses_a_retiring_version_that_is_not_one" {
  command = plan
  variables {
    previous_api_version = "old"
  }
  expect_failures = [var.previous_api_version]
}

run "refuses_an_api_version_that_is_not_one" {
  command = plan
  variables {
    api_version = "latest"
  }
  expect_failures = [var.api_version]
}

run "refuses_amounts_that_are_not_minor_units" {
  command = plan
  variables {
    plans = {
      pro = { name = "Pro", description = "x", order = 1, monthly_amount = 29.5, annual_amount = 290, features = [], entitlements = [], limits = {} }
    }
  }
  expect_failures = [var.plans]
}

run "refuses_more_plans_than_the_portal_switches_between" {
  command = plan
  variables {
    plans = { for i in range(11) : "plan${i}" => {
      name = "Plan ${i}", description = "x", order = i, monthly_amount = 100 + i, annual_amount = 1000 + i, features = [], entitlements = [], limits = {}
    } }
  }
  expect_failures = [var.plans]
}
