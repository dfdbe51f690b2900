# Stripe's configuration for stripe-billing, as code: the catalog (a product per plan with a monthly and an annual
# price), the usage meter with its metered price, the Customer Portal configuration, and the webhook endpoint.
# Attribute names follow Stripe's API parameters, which the stripe/stripe provider mirrors; README.md says what the
# offline checks cover and what they can't.

locals {
  intervals = { monthly = "month", annual = "year" }
  prices = merge([
    for key, plan in var.plans : {
      for suffix, interval in local.intervals : "${key}_${suffix}" => {
        plan     = key
        interval = interval
        amount   = suffix == "monthly" ? plan.monthly_amount : plan.annual_amount
        nickname = "${plan.name} ${suffix}"
      }
    }
  ]...)
}

resource "stripe_product" "plan" {
  for_each    = var.plans
  name        = each.value.name
  description = each.value.description
  # Read by the billing API: plan key and order for plan cards, entitlements and limits.
  metadata = merge(
    {
      plan_key   = each.key
      plan_order = tostring(each.value.order)
      features   = join(",", each.value.entitlements)
    },
    { for name, limit in each.value.limits : "limit_${name}" => tostring(limit) },
  )
  dynamic "marketing_features" {
    for_each = each.value.features
    content {
      name = marketing_features.value
    }
  }
}

resource "stripe_price" "plan" {
  for_each    = local.prices
  product     = stripe_product.plan[each.value.plan].id
  currency    = var.currency
  unit_amount = each.value.amount
  nickname    = each.value.nickname
  lookup_key  = each.key
  recurring {
    interval       = each.value.interval
    interval_count = 1
    usage_type     = "licensed"
  }
}

resource "stripe_billing_meter" "usage" {
  display_name = var.meter.display_name
  event_name   = var.meter.event_name
  default_aggregation {
    formula = "sum"
  }
  customer_mapping {
    type              = "by_id"
    event_payload_key = "stripe_customer_id"
  }
  value_settings {
    event_payload_key = "value"
  }
}

resource "stripe_product" "usage" {
  name = var.meter.product_name
  metadata = {
    meter_event_name = var.meter.event_name
  }
}

# Billed monthly in arrears from the meter's sum; subscriptions add it as a second item next to the plan.
resource "stripe_price" "usage" {
  product             = stripe_product.usage.id
  currency            = var.currency
  unit_amount_decimal = var.meter.unit_amount_decimal
  nickname            = "${var.meter.display_name} (metered)"
  lookup_key          = "${var.meter.event_name}_metered"
  recurring {
    interval   = "month"
    usage_type = "metered"
    meter      = stripe_billing_meter.usage.id
  }
}

# The provider models the portal's sub-objects as nested attributes (`features = { ... }`), not blocks.
resource "stripe_billing_portal_configuration" "portal" {
  business_profile = {
    headline             = var.portal.headline
    privacy_policy_url   = var.portal.privacy_policy_url
    terms_of_service_url = var.portal.terms_of_service_url
  }
  default_return_url = var.portal.default_return_url
  metadata = {
    managed_by = "terraform" # `billing configure-portal` manages only its own (managed_by = stripe-billing)
  }
  features = {
    invoice_history       = { enabled = true }
    payment_method_update = { enabled = true }
    customer_update = {
      enabled         = true
      allowed_updates = ["email", "address", "tax_id"]
    }
    subscription_cancel = {
      enabled = true
      mode    = "at_period_end"
      cancellation_reason = {
        enabled = true
        options = var.portal.cancellation_reasons
      }
    }
    subscription_update = {
      enabled                 = true
      default_allowed_updates = ["price"]
      proration_behavior      = "create_prorations"
      products = [
        for key, plan in var.plans : {
          product = stripe_product.plan[key].id
          prices  = [for suffix in keys(local.intervals) : stripe_price.plan["${key}_${suffix}"].id]
        }
      ]
    }
  }
}

# One endpoint per API version in use: the pinned one and, during an API version upgrade, the one being retired
# (previous_api_version). A changed api_version replaces an endpoint (the provider marks it RequiresReplace) and
# the new endpoint signs with a new secret, so the old endpoint stays until the receivers have both secrets
# (docs/deploy.md, "Upgrading the Stripe API version"); create_before_destroy covers any other replacement.
resource "stripe_webhook_endpoint" "billing" {
  for_each       = toset(compact([var.api_version, var.previous_api_version]))
  url            = var.webhook_url
  description    = each.key == var.api_version ? "stripe-billing webhook receiver" : "stripe-billing webhook receiver (retiring ${each.key})"
  api_version    = each.key
  enabled_events = var.enabled_events
  metadata = {
    managed_by = "terraform"
  }
  lifecycle {
    create_before_destroy = true
  }
}

# Thin events (v2) come only through an event destination, never a v1 webhook endpoint: the meter error reports
# the usage reporter ties back to its aggregates. Same receiver URL, its own signing secret.
resource "stripe_v2_core_event_destination" "meter_errors" {
  name           = "stripe-billing meter errors"
  description    = "Thin meter error events for the stripe-billing usage reporter"
  type           = "webhook_endpoint"
  event_payload  = "thin"
  enabled_events = var.thin_event_types
  webhook_endpoint {
    url = var.webhook_url
  }
  metadata = {
    managed_by = "terraform"
  }
  lifecycle {
    create_before_destroy = true
  }
}
