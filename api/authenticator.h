#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace billing::api {

/// Who is calling: a product backend (any account) or a browser holding a token for one account.
struct Caller {
  bool backend = false;
  std::string account_id;  // set for tokens
  bool mayAccess(const std::string& account) const { return backend || account == account_id; }
};

/// Checks `Authorization: Bearer ...`: one of the API keys (compared in constant time, every key every time), or a
/// token this service signed (HS256 JWT: subject = account id, expiry checked, `typ` = "account"). Also signs and
/// verifies the short-lived preview tokens of plan changes with the same secret and a different `typ`, so one can
/// never stand in for the other.
class Authenticator {
 public:
  Authenticator(std::vector<std::string> api_keys, std::string token_secret);

  std::optional<Caller> authenticate(const std::string& authorization_header, std::int64_t now) const;

  /// A token for the browser, valid for `ttl_seconds`.
  std::string mintAccountToken(const std::string& account_id, std::int64_t now, int ttl_seconds) const;

  /// A signed, expiring token carrying `claims` (e.g. a proration preview); `typ` distinguishes uses.
  std::string mintToken(const std::string& typ, const nlohmann::json& claims, std::int64_t now, int ttl_seconds) const;
  /// The claims of a token of type `typ` if its signature is ours and it hasn't expired.
  std::optional<nlohmann::json> verifyToken(const std::string& typ, const std::string& token, std::int64_t now) const;

 private:
  std::vector<std::string> key_digests_;  // SHA-256 of each key: fixed length, so the comparison is constant-time
  std::string token_secret_;
};

}  // namespace billing::api
