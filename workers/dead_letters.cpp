#include "workers/dead_letters.h"

#include "common/json_log.h"
#include "workers/retry_wait.h"

namespace billing::workers {
namespace {

std::string toHex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

std::string fromHex(const std::string& text) {
  std::string out;
  if (text.rfind("\\x", 0) != 0) return text;
  out.reserve((text.size() - 2) / 2);
  auto value = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 2; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(value(text[i]) * 16 + value(text[i + 1])));
  }
  return out;
}

}  // namespace

void DeadLetterStore::record(const ConsumedMessage& message, const std::string& event_id,
                             const std::string& event_type, const std::string& reason, const std::string& error,
                             int attempts) {
  // The payload goes in as bytea (hex): a poison message need not be valid UTF-8.
  db_.query("INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, event_id, event_type, payload,\n"
            "                          reason, error, attempts)\n"
            "VALUES ($1, $2::int, $3::bigint, nullif($4, ''), nullif($5, ''), nullif($6, ''), $7::bytea, $8, $9, $10::int)\n"
            "ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING",
            {message.topic, std::to_string(message.partition), std::to_string(message.offset), message.key, event_id,
             event_type, toHex(message.payload), reason, error, std::to_string(attempts)});
}

std::vector<DeadLetter> DeadLetterStore::select(const std::string& where, const std::vector<std::string>& params) {
  std::vector<DeadLetter> out;
  auto rows = db_.query(
      "SELECT id, topic, kafka_partition, kafka_offset, coalesce(kafka_key, ''), coalesce(event_id, ''),\n"
      "       coalesce(event_type, ''), payload, reason, error, attempts,\n"
      "       to_char(failed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),\n"
      "       coalesce(to_char(replayed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')\n"
      "FROM dead_letters " + where,
      params);
  for (const auto& r : rows) {
    DeadLetter d;
    d.id = std::stoll(r[0].value_or("0"));
    d.topic = r[1].value_or("");
    d.partition = std::stoi(r[2].value_or("-1"));
    d.offset = std::stoll(r[3].value_or("-1"));
    d.key = r[4].value_or("");
    d.event_id = r[5].value_or("");
    d.event_type = r[6].value_or("");
    d.payload = fromHex(r[7].value_or(""));
    d.reason = r[8].value_or("");
    d.error = r[9].value_or("");
    d.attempts = std::stoi(r[10].value_or("0"));
    d.failed_at = r[11].value_or("");
    d.replayed_at = r[12].value_or("");
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<DeadLetter> DeadLetterStore::list(bool include_replayed, int limit) {
  return select(std::string(include_replayed ? "" : "WHERE replayed_at IS NULL ") + "ORDER BY id LIMIT $1::int",
                {std::to_string(limit)});
}

std::optional<DeadLetter> DeadLetterStore::get(std::int64_t id) {
  auto found = select("WHERE id = $1::bigint", {std::to_string(id)});
  if (found.empty()) return std::nullopt;
  return found.front();
}

void DeadLetterStore::markReplayed(std::int64_t id) {
  db_.query("UPDATE dead_letters SET replayed_at = now() WHERE id = $1::bigint", {std::to_string(id)});
}

bool moveToDeadLetters(kafka::DurableProducer& dlq, const std::string& dlq_topic,
                       const std::function<pg::Connection&()>& db, const ConsumedMessage& message,
                       const std::string& event_id, const std::string& event_type, const std::string& reason,
                       const std::string& error, int attempts, const std::atomic<bool>& stop) {
  kafka::MessageHeaders headers = message.headers;
  headers.emplace_back("dlq-reason", reason);
  headers.emplace_back("dlq-error", error.substr(0, 1000));
  headers.emplace_back("dlq-source", message.topic + "/" + std::to_string(message.partition) + "/" +
                                         std::to_string(message.offset));
  for (int attempt = 0;; ++attempt) {
    auto delivery = dlq.produce(dlq_topic, message.key, message.payload, headers);
    if (delivery.status == kafka::DeliveryStatus::Delivered) break;
    log::warn("dead-letter topic unavailable", {{"cause", kafka::toString(delivery.status)}, {"error", delivery.error}});
    if (!waitBeforeRetry(attempt, stop)) return false;
  }
  for (int attempt = 0;; ++attempt) {
    try {
      DeadLetterStore(db()).record(message, event_id, event_type, reason, error, attempts);
      return true;
    } catch (const pg::PgError& e) {
      log::warn("dead letter not recorded yet", {{"sqlstate", e.sqlstate()}, {"error", e.what()}});
      if (!waitBeforeRetry(attempt, stop)) return false;
    }
  }
}

}  // namespace billing::workers
