#pragma once
// The senders of the chaos runs: requests paced so that the faults land mid-stream, each retried as a client does
// until its server takes it.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

#include "tests/support/http_client.h"

namespace billing::chaos {

/// What one attempt got: taken (2xx), refused (an answer a retry won't change) or to retry (refused connection,
/// reset, 5xx, 429: the server is down, was killed or can't store it yet).
enum class Attempt { Taken, Refused, Retry };

/// Sends `count` requests from a few threads, the i-th no earlier than i / per_second after the start, each
/// attempted until it is taken or refused, 200 ms apart (Stripe retries a webhook delivery, a product backend its
/// API call). `post(i, client)` makes the i-th request on the thread's keep-alive client to 127.0.0.1:port; a
/// client whose connection failed is replaced.
class PacedPosts {
 public:
  using Post = std::function<Attempt(std::size_t i, testing::HttpClient& client)>;
  PacedPosts(std::size_t count, int port, double per_second) : count_(count), port_(port), per_second_(per_second) {}

  void run(int threads, const Post& post);
  /// Requests started so far: what a fault schedule waits for.
  std::size_t started() const { return next_.load(); }
  std::size_t total() const { return count_; }
  std::size_t retries() const { return retries_.load(); }
  std::size_t refused() const { return refused_.load(); }

 private:
  void send(const Post& post);

  std::size_t count_;
  int port_;
  double per_second_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> retries_{0};
  std::atomic<std::size_t> refused_{0};
};

}  // namespace billing::chaos
