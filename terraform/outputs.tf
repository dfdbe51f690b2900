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

output "webhook_endpoint_id" {
  value = stripe_webhook_endpoint.billing.id
}

output "webhook_secret" {
  description = "The endpoint's signing secret: the `webhook-secrets` key of the chart's Secret."
  value       = stripe_webhook_endpoint.billing.secret
  sensitive   = true
}

# Values for the Helm chart (non-secret); the secrets go to the Secret named by existingSecret (docs/deploy.md).
output "helm_values" {
  value = {
    api = {
      usageMeters = [stripe_billing_meter.usage.event_name]
    }
  }
}
