# `tofu test` with a mocked provider: the plan wires the catalog, meter, portal and webhook endpoint together as
# intended. Needs the provider's schema (tofu init with the stripe/stripe provider): see README.md.
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
  mock_resource "stripe_webhook_endpoint" {
    defaults = { id = "we_mock", secret = "whsec_mock" }
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
    condition     = stripe_price.usage.recurring[0].usage_type == "metered"
    error_message = "the usage price is metered"
  }
  assert {
    condition     = stripe_webhook_endpoint.billing.api_version == "2026-07-29.dahlia"
    error_message = "the webhook endpoint renders events at the pinned API version"
  }
  assert {
    condition     = length(stripe_webhook_endpoint.billing.enabled_events) == 42
    error_message = "subscribed to exactly the event types the workers handle"
  }
  assert {
    condition     = output.webhook_secret == "whsec_mock"
    error_message = "the signing secret is an output for the chart's Secret"
  }
}

run "refuses_a_webhook_url_elsewhere" {
  command = plan
  variables {
    webhook_url = "http://billing.example.com/hooks"
  }
  expect_failures = [var.webhook_url]
}
