// The usage topic's message format (what `billing api` writes and the usage reporter reads back, also after a
// replay of an old topic): any bytes decode or are refused with a reason, never a crash; a decoded batch has only
// events the reporter can sum (value >= 0); and encoding a decoded batch then decoding it gives the same events.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "usage/usage_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto events = billing::usage::decodeUsageBatch(payload, 1780000000, error);
  if (!events) {
    FUZZ_CHECK(!error.empty(), "a refused batch says why");
    return 0;
  }
  for (const auto& e : *events) FUZZ_CHECK(e.value >= 0, "a decoded value is not negative");
  if (events->empty()) return 0;
  auto again = billing::usage::decodeUsageBatch(billing::usage::encodeUsageBatch(*events, events->front().received_at),
                                                0, error);
  FUZZ_CHECK(again && again->size() == events->size(), "a re-encoded batch decodes to as many events");
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto& a = (*events)[i];
    const auto& b = (*again)[i];
    FUZZ_CHECK(a.identifier == b.identifier && a.account_id == b.account_id && a.customer_id == b.customer_id &&
                   a.meter == b.meter && a.value == b.value && a.timestamp == b.timestamp &&
                   a.period_cut == b.period_cut,
               "a re-encoded event decodes to the same event");
  }
  return 0;
}
