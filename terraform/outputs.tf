output "price_ids" {
  description = "Price ids by lookup key (starter_monthly, starter_annual, ...; <meter>_metered)."
  value = merge(
    { for key, price in stripe_price.plan : key => price.id },
    { (stripe_price.usage.lookup_key) = stripe_price.usage.id },
  )
}

output "meter_event_name" {
  description = "For the chart: api.usageMeters."
  value       = stripe_billing_meter.usage.event_name
}

output "portal_configuration_id" {
  value = stripe_billing_portal_configuration.portal.id
}

output "webhook_endpoint_ids" {
  description = "Webhook endpoint ids by API version (two during an API version upgrade)."
  value       = { for version, endpoint in stripe_webhook_endpoint.billing : version => endpoint.id }
}

output "event_destination_id" {
  value = stripe_v2_core_event_destination.meter_errors.id
}

# Exactly the lines of the chart Secret's `webhook-secrets`: the pinned version's endpoint first, then the retiring
# one's (during an upgrade), then the event destination's (thin events).
output "webhook_secrets" {
  description = "Every signing secret the receiver needs, one per line: the `webhook-secrets` key of the chart's Secret."
  value = join("\n", concat(
    [stripe_webhook_endpoint.billing[var.api_version].secret],
    var.previous_api_version == null ? [] : [stripe_webhook_endpoint.billing[var.previous_api_version].secret],
    [stripe_v2_core_event_destination.meter_errors.webhook_endpoint[0].signing_secret],
  ))
  sensitive = true
}

# Values for the Helm chart (non-secret); the secrets go to the Secret named by existingSecret (docs/deploy.md).
output "helm_values" {
  value = {
    api = {
      usageMeters = [stripe_billing_meter.usage.event_name]
    }
  }
}
