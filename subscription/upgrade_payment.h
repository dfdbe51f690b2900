#pragma once
#include <string>

namespace billing::subscription {

/// How a subscription pays the invoice of a change that applies now (an upgrade, charged with proration), and so
/// which payment_behavior the update sends to Stripe.
struct PaymentSetup {
  std::string collection_method;    // Stripe's: charge_automatically, or send_invoice (invoice terms)
  std::string payment_method_type;  // the default payment method's type (card, sepa_debit, ...); "" when unknown
  bool bills_usage = false;         // some item is on a metered price
  /// The customer chose to have the change applied now and to confirm its payment with the bank after it (asked
  /// after a usage plan's change was refused because the bank wants 3-D Secure).
  bool authenticate_after_change = false;
};

enum class UpgradePayment {
  /// pending_if_incomplete: the change applies once its invoice is paid (3-D Secure, a new card), else expires.
  PendingUntilPaid,
  /// error_if_incomplete: the change is refused as a whole (402) when the payment fails; nothing changed.
  RefusedUnlessPaid,
  /// allow_incomplete, invoice terms: the change applies now and its invoice is sent, due by the terms.
  Invoiced,
  /// allow_incomplete, a usage plan whose customer chose it after a 3-D Secure refusal: the change applies now and
  /// its invoice, the usage up to the change on it, waits for the customer's confirmation (or another card) on the
  /// invoice page; unpaid, the subscription is past due as after a renewal, and the usage stays billed.
  AppliedAwaitingPayment,
  /// allow_incomplete, bank debit: the change applies now and the debit settles in some days; a failed debit
  /// leaves the invoice open and the subscription past due, as for a renewal.
  DebitProcessing,
};

/// Pending updates "aren't supported when the subscription's collection_method is send_invoice or when bank debits
/// are used as the payment method" (https://docs.stripe.com/billing/subscriptions/pending-updates), and with usage
/// billing an expired pending update "discards this usage" (same page), so a usage subscription's card upgrade is
/// refused unless paid instead; after a refusal for 3-D Secure the customer may choose AppliedAwaitingPayment (an
/// open invoice keeps its usage, unlike an expired pending update). Stricter reading of "card": any other type (or none known) takes the card path,
/// where Stripe's own answer, if it refuses, is passed on.
UpgradePayment upgradePayment(const PaymentSetup& setup);

/// Stripe's payment_behavior for it.
const char* paymentBehavior(UpgradePayment payment);

/// The answer's outcome word for a change that Stripe applied at once: applied, invoiced, payment_processing,
/// applied_awaiting_payment.
const char* appliedOutcome(UpgradePayment payment);

/// A bank debit payment method type (https://docs.stripe.com/payments/bank-debits): ACH (us_bank_account), Bacs
/// (bacs_debit), BECS (au_becs_debit), NZ BECS (nz_bank_account), PADs (acss_debit), SEPA (sepa_debit).
bool isBankDebit(const std::string& payment_method_type);

}  // namespace billing::subscription
