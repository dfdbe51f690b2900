#include "api/authenticator.h"

#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <openssl/crypto.h>

#include <ctime>
#include <sstream>

#include "common/digest.h"

namespace billing::api {
Authenticator::Authenticator(std::vector<std::string> api_keys, std::string token_secret)
    : token_secret_(std::move(token_secret)) {
  for (const auto& key : api_keys) key_digests_.push_back(common::sha256(key));
}

std::optional<Caller> Authenticator::authenticate(const std::string& header, std::int64_t now) const {
  static const std::string kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return std::nullopt;
  std::string credential = header.substr(kBearer.size());
  auto digest = common::sha256(credential);
  bool is_key = false;
  for (const auto& key : key_digests_) {
    // No early exit: every key is compared, so timing says nothing about which one (nearly) matched.
    is_key |= CRYPTO_memcmp(digest.data(), key.data(), digest.size()) == 0;
  }
  if (is_key) return Caller{true, ""};
  auto claims = verifyToken("account", credential, now);
  if (!claims || !claims->contains("sub") || !(*claims)["sub"].is_string()) return std::nullopt;
  return Caller{false, (*claims)["sub"].get<std::string>()};
}

std::string Authenticator::mintAccountToken(const std::string& account_id, std::int64_t now, int ttl_seconds) const {
  return mintToken("account", {{"sub", account_id}}, now, ttl_seconds);
}

std::string Authenticator::mintToken(const std::string& typ, const nlohmann::json& claims, std::int64_t now,
                                     int ttl_seconds) const {
  Poco::JWT::Token token;
  token.setType("JWT");
  token.payload().set("typ", typ);
  for (const auto& [key, value] : claims.items()) {
    if (value.is_string()) token.payload().set(key, value.get<std::string>());
    else if (value.is_number_integer()) token.payload().set(key, static_cast<Poco::Int64>(value.get<std::int64_t>()));
    else if (value.is_boolean()) token.payload().set(key, value.get<bool>());
    else token.payload().set(key, value.dump());  // nested values travel as JSON text
  }
  token.setIssuedAt(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(now)));
  token.setExpiration(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(now + ttl_seconds)));
  Poco::JWT::Signer signer(token_secret_);
  return signer.sign(token, Poco::JWT::Signer::ALGO_HS256);
}

std::optional<nlohmann::json> Authenticator::verifyToken(const std::string& typ, const std::string& jwt,
                                                         std::int64_t now) const {
  Poco::JWT::Signer signer(token_secret_);  // accepts HS256 only (its default algorithm set)
  Poco::JWT::Token token;
  try {
    if (!signer.tryVerify(jwt, token)) return std::nullopt;
  } catch (const Poco::Exception&) {
    return std::nullopt;  // not even a JWT
  }
  if (token.getAlgorithm() != Poco::JWT::Signer::ALGO_HS256) return std::nullopt;
  if (!token.payload().has("typ") || token.payload().getValue<std::string>("typ") != typ) return std::nullopt;
  if (!token.payload().has("exp") || token.getExpiration().epochTime() <= static_cast<std::time_t>(now)) {
    return std::nullopt;
  }
  std::ostringstream text;
  token.payload().stringify(text);
  auto claims = nlohmann::json::parse(text.str(), nullptr, false);
  if (claims.is_discarded()) return std::nullopt;
  return claims;
}

}  // namespace billing::api
