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

resource "stripe_billing_portal_configuration" "portal" {
  business_profile {
    headline             = var.portal.headline
    privacy_policy_url   = var.portal.privacy_policy_url
    terms_of_service_url = var.portal.terms_of_service_url
  }
  default_return_url = var.portal.default_return_url
  metadata = {
    managed_by = "terraform" # `billing configure-portal` manages only its own (managed_by = stripe-billing)
  }
  features {
    invoice_history {
      enabled = true
    }
    payment_method_update {
      enabled = true
    }
    customer_update {
      enabled         = true
      allowed_updates = ["email", "address", "tax_id"]
    }
    subscription_cancel {
      enabled = true
      mode    = "at_period_end"
      cancellation_reason {
        enabled = true
        options = var.portal.cancellation_reasons
      }
    }
    subscription_update {
      enabled                 = true
      default_allowed_updates = ["price"]
      proration_behavior      = "create_prorations"
      dynamic "products" {
        for_each = var.plans
        content {
          product = stripe_product.plan[products.key].id
          prices  = [for suffix in keys(local.intervals) : stripe_price.plan["${products.key}_${suffix}"].id]
        }
      }
    }
  }
}

resource "stripe_webhook_endpoint" "billing" {
  url            = var.webhook_url
  description    = "stripe-billing webhook receiver"
  api_version    = var.api_version
  enabled_events = var.enabled_events
  metadata = {
    managed_by = "terraform"
  }
}
