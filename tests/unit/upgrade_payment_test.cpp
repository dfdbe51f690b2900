// How an upgrade pays, per collection method and payment method type (subscription/upgrade_payment.h). Before,
// every subscription without usage upgraded with pending_if_incomplete, which Stripe refuses for send_invoice and
// bank debits (https://docs.stripe.com/billing/subscriptions/pending-updates).
#include <catch2/catch.hpp>

#include "subscription/upgrade_payment.h"

using billing::subscription::PaymentSetup;
using billing::subscription::UpgradePayment;
using billing::subscription::upgradePayment;

TEST_CASE("upgrade payment: cards wait for the payment, usage plans refuse unless paid", "[unit]") {
  CHECK(upgradePayment({"charge_automatically", "card", false}) == UpgradePayment::PendingUntilPaid);
  CHECK(upgradePayment({"charge_automatically", "", false}) == UpgradePayment::PendingUntilPaid);
  CHECK(upgradePayment({"charge_automatically", "card", true}) == UpgradePayment::RefusedUnlessPaid);
  CHECK(std::string(paymentBehavior(UpgradePayment::PendingUntilPaid)) == "pending_if_incomplete");
  CHECK(std::string(paymentBehavior(UpgradePayment::RefusedUnlessPaid)) == "error_if_incomplete");
  CHECK(std::string(appliedOutcome(UpgradePayment::PendingUntilPaid)) == "applied");
}

TEST_CASE("upgrade payment: invoice terms and bank debits never use pending updates", "[unit]") {
  for (bool usage : {false, true}) {
    CHECK(upgradePayment({"send_invoice", "card", usage}) == UpgradePayment::Invoiced);
    CHECK(upgradePayment({"send_invoice", "", usage}) == UpgradePayment::Invoiced);
    for (const char* debit : {"sepa_debit", "us_bank_account", "bacs_debit", "au_becs_debit", "acss_debit", "nz_bank_account"}) {
      CHECK(upgradePayment({"charge_automatically", debit, usage}) == UpgradePayment::DebitProcessing);
    }
  }
  CHECK(std::string(paymentBehavior(UpgradePayment::Invoiced)) == "allow_incomplete");
  CHECK(std::string(paymentBehavior(UpgradePayment::DebitProcessing)) == "allow_incomplete");
  CHECK(std::string(appliedOutcome(UpgradePayment::Invoiced)) == "invoiced");
  CHECK(std::string(appliedOutcome(UpgradePayment::DebitProcessing)) == "payment_processing");
  CHECK_FALSE(billing::subscription::isBankDebit("card"));
  CHECK_FALSE(billing::subscription::isBankDebit("link"));
}

TEST_CASE("upgrade payment: a usage plan the customer chose to confirm after applies now and waits for the bank", "[unit]") {
  PaymentSetup setup{"charge_automatically", "card", true, true};
  CHECK(upgradePayment(setup) == UpgradePayment::AppliedAwaitingPayment);
  CHECK(std::string(paymentBehavior(UpgradePayment::AppliedAwaitingPayment)) == "allow_incomplete");
  CHECK(std::string(appliedOutcome(UpgradePayment::AppliedAwaitingPayment)) == "applied_awaiting_payment");
  // Without usage billing the choice changes nothing: a pending update already waits for the bank.
  CHECK(upgradePayment({"charge_automatically", "card", false, true}) == UpgradePayment::PendingUntilPaid);
  // Invoice terms and bank debits keep their own path.
  CHECK(upgradePayment({"send_invoice", "card", true, true}) == UpgradePayment::Invoiced);
  CHECK(upgradePayment({"charge_automatically", "sepa_debit", true, true}) == UpgradePayment::DebitProcessing);
}
