#include "subscription/upgrade_payment.h"

#include <array>
#include <string_view>

namespace billing::subscription {

bool isBankDebit(const std::string& payment_method_type) {
  static constexpr std::array<std::string_view, 6> kBankDebits = {"us_bank_account", "bacs_debit", "au_becs_debit",
                                                                  "nz_bank_account", "acss_debit", "sepa_debit"};
  for (auto type : kBankDebits) {
    if (payment_method_type == type) return true;
  }
  return false;
}

UpgradePayment upgradePayment(const PaymentSetup& setup) {
  if (setup.collection_method == "send_invoice") return UpgradePayment::Invoiced;
  if (isBankDebit(setup.payment_method_type)) return UpgradePayment::DebitProcessing;
  if (!setup.bills_usage) return UpgradePayment::PendingUntilPaid;
  return setup.authenticate_after_change ? UpgradePayment::AppliedAwaitingPayment : UpgradePayment::RefusedUnlessPaid;
}

const char* paymentBehavior(UpgradePayment payment) {
  switch (payment) {
    case UpgradePayment::PendingUntilPaid: return "pending_if_incomplete";
    case UpgradePayment::RefusedUnlessPaid: return "error_if_incomplete";
    case UpgradePayment::Invoiced:
    case UpgradePayment::AppliedAwaitingPayment:
    case UpgradePayment::DebitProcessing: return "allow_incomplete";
  }
  return "error_if_incomplete";
}

const char* appliedOutcome(UpgradePayment payment) {
  switch (payment) {
    case UpgradePayment::Invoiced: return "invoiced";
    case UpgradePayment::DebitProcessing: return "payment_processing";
    case UpgradePayment::AppliedAwaitingPayment: return "applied_awaiting_payment";
    default: return "applied";
  }
}

}  // namespace billing::subscription
