#include "sync/retention.h"

#include <string>

namespace billing::sync {

std::int64_t pruneProcessedEvents(pg::Connection& db, int days, int chunk) {
  std::int64_t removed = 0;
  for (;;) {
    auto rows = db.query(
        "WITH old AS (SELECT event_id FROM processed_events WHERE processed_at < now() - make_interval(days => $1::int)\n"
        "             LIMIT $2::int)\n"
        "DELETE FROM processed_events p USING old WHERE p.event_id = old.event_id RETURNING 1",
        {std::to_string(days), std::to_string(chunk)});
    removed += static_cast<std::int64_t>(rows.size());
    if (rows.size() < static_cast<std::size_t>(chunk)) return removed;
  }
}

}  // namespace billing::sync
