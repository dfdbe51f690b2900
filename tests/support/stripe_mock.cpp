#include "tests/support/stripe_mock.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace billing::testing {
namespace {

std::string binary() {
  if (const char* explicit_path = std::getenv("STRIPE_MOCK_BIN")) return explicit_path;
  std::string cache = std::getenv("BILLING_CACHE_DIR") ? std::getenv("BILLING_CACHE_DIR")
                                                       : std::string(std::getenv("HOME")) + "/.cache/stripe-billing";
  return cache + "/bin/stripe-mock";
}

int freePort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  return socket.address().port();
}

}  // namespace

StripeMock::StripeMock() {
  auto path = binary();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + " missing: run scripts/install-deps.sh");
  port_ = freePort();
  // It also serves HTTPS (default [::]:12112): give that its own loopback port so parallel tests don't collide.
  Poco::Process::Args args = {"-http-addr", "127.0.0.1:" + std::to_string(port_), "-https-addr",
                              "127.0.0.1:" + std::to_string(freePort())};
  process_ = std::make_unique<Poco::ProcessHandle>(Poco::Process::launch(path, args, nullptr, nullptr, nullptr));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      Poco::Net::StreamSocket probe(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
      return;
    } catch (const Poco::Exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  throw std::runtime_error("stripe-mock did not start");
}

StripeMock::~StripeMock() {
  try {
    Poco::Process::kill(*process_);
    process_->wait();
  } catch (...) {
    // Already gone.
  }
}

std::pair<int, std::string> StripeMock::replay(const RecordedRequest& r, const std::string& uri) const {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  Poco::Net::HTTPRequest request(r.method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const char* h : {"Authorization", "Stripe-Version", "Idempotency-Key", "Content-Type"}) {
    if (r.headers.count(h)) request.set(h, r.headers.at(h));
  }
  request.setContentLength(static_cast<std::streamsize>(r.body.size()));
  session.sendRequest(request) << r.body;
  Poco::Net::HTTPResponse response;
  std::string answer;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
  return {static_cast<int>(response.getStatus()), answer};
}

}  // namespace billing::testing
