#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/commands.h"
#include "webhook/envelope.h"
#include "webhook/signature.h"

namespace billing::app {
namespace {

constexpr const char* kUsage = R"(usage: billing verify-signature (--secret S | --secret-file F)... --header H --payload-file F
                               [--tolerance SECONDS] [--now UNIX]

Checks a Stripe-Signature header against the exact request body, with the same code as the receiver.
Prints "valid" and exits 0, or prints the reason and exits 1. Bad arguments exit 2.
  --secret S          endpoint signing secret (whsec_...); repeat for several
  --secret-file F     read the secret from a file instead (keeps it out of shell history)
  --header H          the Stripe-Signature header value, e.g. "t=1700000000,v1=5257a8..."
  --payload-file F    the raw request body, byte for byte ("-" for stdin)
  --tolerance N       maximum age of t= in seconds (default 300)
  --now UNIX          verify as of this time instead of now (for events captured earlier)
)";

bool readFile(const std::string& path, std::string& out) {
  std::ostringstream content;
  if (path == "-") {
    content << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    content << in.rdbuf();
  }
  out = content.str();
  return true;
}

bool parseInt64(const std::string& text, std::int64_t& out) {
  try {
    std::size_t used = 0;
    out = std::stoll(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int runVerifySignature(const Args& args) {
  std::vector<std::string> secrets;
  std::optional<std::string> header;
  std::optional<std::string> payload_file;
  std::int64_t tolerance = 300;
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));

  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "billing verify-signature: " << flag << " needs a value\n" << kUsage;
      return kExitUsage;
    }
    const auto& value = args[++i];
    if (flag == "--secret") {
      secrets.push_back(value);
    } else if (flag == "--secret-file") {
      std::string secret;
      if (!readFile(value, secret)) {
        std::cerr << "billing verify-signature: cannot read " << value << "\n";
        return kExitUsage;
      }
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' '))
        secret.pop_back();
      secrets.push_back(secret);
    } else if (flag == "--header") {
      header = value;
    } else if (flag == "--payload-file") {
      payload_file = value;
    } else if (flag == "--tolerance") {
      if (!parseInt64(value, tolerance) || tolerance < 1) {
        std::cerr << "billing verify-signature: --tolerance must be a positive integer\n";
        return kExitUsage;
      }
    } else if (flag == "--now") {
      if (!parseInt64(value, now)) {
        std::cerr << "billing verify-signature: --now must be unix seconds\n";
        return kExitUsage;
      }
    } else {
      std::cerr << "billing verify-signature: unknown option '" << flag << "'\n" << kUsage;
      return kExitUsage;
    }
  }
  if (secrets.empty() || !header || !payload_file) {
    std::cerr << "billing verify-signature: --secret (or --secret-file), --header and --payload-file are required\n"
              << kUsage;
    return kExitUsage;
  }
  std::string payload;
  if (!readFile(*payload_file, payload)) {
    std::cerr << "billing verify-signature: cannot read " << *payload_file << "\n";
    return kExitUsage;
  }

  webhook::SignatureVerifier verifier(secrets, tolerance);
  auto verdict = verifier.verify(payload, *header, now);
  if (verdict != webhook::SignatureVerdict::Valid) {
    std::cout << webhook::reasonCode(verdict) << "\n";
    return kExitFailure;
  }
  // The receiver would also refuse a validly signed body that is not a Stripe event; say so.
  auto envelope = webhook::extractEnvelope(payload);
  if (envelope.error != webhook::EnvelopeError::None) {
    std::cout << "valid signature, but the receiver would refuse the body: " << envelope.detail << "\n";
    return kExitFailure;
  }
  std::cout << "valid\n";
  return kExitOk;
}

}  // namespace billing::app
