#include "common/postgres.h"

#include <libpq-fe.h>
#include <poll.h>

namespace billing::pg {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

[[noreturn]] void fail(const PGresult* result, pg_conn* conn) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw PgError(state ? state : "08000", message);
}

void check(const Result& result, pg_conn* conn) {
  auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result.get(), conn);
}

}  // namespace

Connection::Connection(const std::string& url, int connect_timeout_s) {
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  std::string timeout = std::to_string(connect_timeout_s);
  const char* values[] = {url.c_str(), timeout.c_str(), "stripe-billing", nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);  // expand_dbname: `url` may be a URL or key=value string
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("08001", "cannot connect to PostgreSQL: " + message);
  }
}

bool isTransient(const PgError& error) {
  const auto& state = error.sqlstate();
  if (state.size() != 5) return true;
  auto cls = state.substr(0, 2);
  // 08 connection, 40 transaction rollback (serialization, deadlock), 53 insufficient resources, 57 operator
  // intervention (shutdown, cancel), 58 system error (I/O); 55P03 lock not available.
  return cls == "08" || cls == "40" || cls == "53" || cls == "57" || cls == "58" || state == "55P03";
}

bool isDataError(const PgError& error) {
  const auto& state = error.sqlstate();
  return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || state.rfind("54", 0) == 0;
}

bool Connection::broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

std::vector<std::string> Connection::waitForNotifications(int timeout_ms) {
  std::vector<std::string> payloads;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) throw PgError("08006", "connection lost");
  if (poll(&fd, 1, timeout_ms) > 0 && PQconsumeInput(conn_) == 0) {
    throw PgError("08006", "connection lost while listening");
  }
  while (PGnotify* n = PQnotifies(conn_)) {
    payloads.emplace_back(n->extra ? n->extra : "");
    PQfreemem(n);
  }
  if (broken()) throw PgError("08006", "connection lost while listening");
  return payloads;
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

void Connection::exec(const std::string& sql) {
  // PQexec runs every statement of the string; it stops at the first error.
  Result result(PQexec(conn_, sql.c_str()));
  check(result, conn_);
}

std::vector<Row> Connection::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  // Prepared once per connection and SQL text: the server parses and plans it once, not on every call (hot
  // statements run hundreds of times a second). A bounded cache, in case some caller builds SQL text freely.
  auto found = prepared_.find(sql);
  if (found == prepared_.end() && prepared_.size() < kMaxPrepared) {
    std::string name = "billing_" + std::to_string(prepared_.size() + 1);
    Result prepared(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    check(prepared, conn_);
    found = prepared_.emplace(sql, std::move(name)).first;
  }
  Result result(found != prepared_.end()
                    ? PQexecPrepared(conn_, found->second.c_str(), static_cast<int>(params.size()), values.data(),
                                     nullptr, nullptr, 0)
                    : PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                   nullptr, nullptr, 0));
  check(result, conn_);
  std::vector<Row> rows;
  int n_rows = PQntuples(result.get());
  int n_cols = PQnfields(result.get());
  rows.reserve(static_cast<std::size_t>(n_rows));
  for (int r = 0; r < n_rows; ++r) {
    Row row;
    for (int c = 0; c < n_cols; ++c) {
      if (PQgetisnull(result.get(), r, c)) row.emplace_back(std::nullopt);
      else row.emplace_back(std::string(PQgetvalue(result.get(), r, c), static_cast<std::size_t>(PQgetlength(result.get(), r, c))));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace billing::pg
