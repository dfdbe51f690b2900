variable "webhook_url" {
  description = "Public URL of the webhook receiver (the chart's webhook ingress), ending in /webhooks/stripe."
  type        = string
  validation {
    condition     = can(regex("^https://[^/]+/.*webhooks/stripe$", var.webhook_url))
    error_message = "webhook_url must be https://<host>/.../webhooks/stripe."
  }
}

variable "api_version" {
  description = "Stripe API version the webhook endpoint renders events in: the one the code pins (stripe/api_version.h)."
  type        = string
  default     = "2026-07-29.dahlia"
  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}(\\.[a-z]+)?$", var.api_version))
    error_message = "api_version is a Stripe API version such as 2026-07-29.dahlia."
  }
}

variable "previous_api_version" {
  description = <<-EOT
    During an API version upgrade only: the version being retired. Its webhook endpoint (and signing secret) stays
    next to the new one until the receivers have both secrets; then unset it and apply again (docs/deploy.md).
  EOT
  type        = string
  default     = null
  validation {
    condition     = var.previous_api_version == null || var.previous_api_version != var.api_version
    error_message = "previous_api_version is the version being retired: it can't be api_version."
  }
  validation {
    condition     = var.previous_api_version == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}(\\.[a-z]+)?$", var.previous_api_version))
    error_message = "previous_api_version is a Stripe API version such as 2026-07-29.dahlia (the one the endpoint has now)."
  }
}

variable "thin_event_types" {
  description = "Thin (v2) event types the event destination sends: exactly what `billing event-types --thin` prints."
  type        = list(string)
  default = [
    "v1.billing.meter.error_report_triggered",
    "v1.billing.meter.no_meter_found",
  ]
}

variable "enabled_events" {
  description = "Event types the webhook endpoint sends: exactly what `billing event-types` prints (tests/deploy checks it)."
  type        = list(string)
  default = [
    "customer.created",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "customer.subscription.updated",
    "customer.updated",
    "invoice.created",
    "invoice.deleted",
    "invoice.finalization_failed",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.paid",
    "invoice.payment_action_required",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.sent",
    "invoice.updated",
    "invoice.voided",
    "invoice.will_be_due",
    "payment_method.attached",
    "payment_method.automatically_updated",
    "payment_method.detached",
    "payment_method.updated",
    "price.created",
    "price.deleted",
    "price.updated",
    "product.created",
    "product.deleted",
    "product.updated",
    "subscription_schedule.aborted",
    "subscription_schedule.canceled",
    "subscription_schedule.completed",
    "subscription_schedule.created",
    "subscription_schedule.expiring",
    "subscription_schedule.released",
    "subscription_schedule.updated",
  ]
}

variable "currency" {
  description = "Currency of every price (ISO code, lowercase)."
  type        = string
  default     = "usd"
}

variable "plans" {
  description = <<-EOT
    The plans, by key (the API's plan `key`, product metadata plan_key). Amounts in the currency's minor unit.
    features: marketing features shown on plan cards; entitlements: product metadata `features` (comma list) the
    API's entitlements read; limits: metadata `limit_<name>`.
  EOT
  type = map(object({
    name           = string
    description    = string
    order          = number
    monthly_amount = number
    annual_amount  = number
    features       = list(string)
    entitlements   = list(string)
    limits         = map(number)
  }))
  default = {
    starter = {
      name           = "Starter"
      description    = "For side projects"
      order          = 1
      monthly_amount = 900
      annual_amount  = 9000
      features       = ["3 projects", "Email support"]
      entitlements   = ["projects", "email_support"]
      limits         = { projects = 3 }
    }
    pro = {
      name           = "Pro"
      description    = "For growing teams"
      order          = 2
      monthly_amount = 2900
      annual_amount  = 29000
      features       = ["20 projects", "Priority support", "Usage analytics"]
      entitlements   = ["projects", "priority_support", "analytics"]
      limits         = { projects = 20 }
    }
    business = {
      name           = "Business"
      description    = "For companies"
      order          = 3
      monthly_amount = 9900
      annual_amount  = 99000
      features       = ["Unlimited projects", "SSO", "Dedicated support"]
      entitlements   = ["projects", "priority_support", "analytics", "sso"]
      limits         = { projects = 1000000 }
    }
  }
  validation {
    condition = alltrue([for p in values(var.plans) : p.monthly_amount > 0 && p.annual_amount > 0 &&
    floor(p.monthly_amount) == p.monthly_amount && floor(p.annual_amount) == p.annual_amount])
    error_message = "Plan amounts are positive integers in the currency's minor unit."
  }
  validation {
    condition     = length(var.plans) >= 1 && length(var.plans) <= 10
    error_message = "Between 1 and 10 plans: the Customer Portal switches between at most 10 products."
  }
}

variable "meter" {
  description = "The billing meter usage is reported to (its event_name goes into the chart's api.usageMeters)."
  type = object({
    event_name          = string
    display_name        = string
    unit_amount_decimal = string # price per unit in minor units, e.g. "0.05" = $0.0005 per API request
    product_name        = string
  })
  default = {
    event_name          = "api_requests"
    display_name        = "API requests"
    unit_amount_decimal = "0.05"
    product_name        = "API usage"
  }
}

variable "portal" {
  description = "Customer Portal: the same content as api/portal.example.json for `billing configure-portal`."
  type = object({
    headline             = string
    privacy_policy_url   = string
    terms_of_service_url = string
    default_return_url   = string
    cancellation_reasons = list(string)
  })
  default = {
    headline             = "Acme Cloud: manage your billing"
    privacy_policy_url   = "https://example.com/privacy"
    terms_of_service_url = "https://example.com/terms"
    default_return_url   = "https://app.example.com/billing"
    cancellation_reasons = ["too_expensive", "missing_features", "switched_service", "unused", "other"]
  }
}
