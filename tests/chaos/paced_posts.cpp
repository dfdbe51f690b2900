#include "tests/chaos/paced_posts.h"

#include <exception>
#include <memory>
#include <thread>
#include <vector>

namespace billing::chaos {

void PacedPosts::run(int threads, const Post& post) {
  start_ = std::chrono::steady_clock::now();
  std::vector<std::thread> senders;
  for (int i = 0; i < threads; ++i) senders.emplace_back([this, &post] { send(post); });
  for (auto& t : senders) t.join();
}

void PacedPosts::send(const Post& post) {
  std::unique_ptr<testing::HttpClient> client;
  for (std::size_t i = next_++; i < count_; i = next_++) {
    std::this_thread::sleep_until(start_ + std::chrono::microseconds(static_cast<std::int64_t>(i * 1e6 / per_second_)));
    for (;;) {
      try {
        if (!client) client = std::make_unique<testing::HttpClient>(port_);
        auto attempt = post(i, *client);
        if (attempt == Attempt::Taken) break;
        if (attempt == Attempt::Refused) {
          ++refused_;  // counted and checked after the run (Catch2 asserts on one thread only)
          break;
        }
      } catch (const std::exception&) {
        client.reset();  // refused or reset: the server is down or was killed
      }
      ++retries_;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace billing::chaos
