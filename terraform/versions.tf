terraform {
  required_version = ">= 1.8.0"
  required_providers {
    stripe = {
      source  = "stripe/stripe"
      version = "~> 0.3.0" # the first with the Customer Portal configuration resource
    }
  }
}

# The API key comes from STRIPE_API_KEY (never from a .tfvars file).
provider "stripe" {}
