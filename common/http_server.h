#pragma once
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/SocketAddress.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/http_request_reader.h"
#include "common/http_settings.h"

namespace billing::metrics {
class Counter;
class Gauge;
}  // namespace billing::metrics

namespace billing::http {

struct HttpServerOptions {
  std::string name;  // "webhook", "api", "ops": the metrics label
  std::string host;
  std::uint16_t port = 0;
  int workers = 8;  // threads running handlers; a handler may block (a Kafka ack, a database call)
  RequestLimits request;
  ConnectionSettings connections;
};

/// HTTP/1.1 server for every role's port. One thread reads and writes all connections without blocking (epoll) and
/// hands only complete requests to the worker threads, so a slow or idle client costs a file descriptor, never a
/// thread: header, body, idle and write deadlines close what takes too long, and at the connection cap the
/// connection that has waited longest for its client is closed to admit a new one. Requests are read strictly
/// (RequestReader); a refusal is a JSON error and closes the connection. Pipelined requests are answered in order.
/// Handlers are Poco's HTTPRequestHandler, called with a fully read request and a buffered response.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> factory);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving; throws when the address can't be bound.
  void start();
  /// Stops accepting, closes connections waiting for their client, lets requests in progress be answered (with
  /// Connection: close) for up to `drain`, then closes everything and joins the threads.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(5000));

  std::uint16_t port() const { return bound_port_; }
  std::size_t maxConnections() const { return max_connections_; }

 private:
  struct Connection;
  struct Job;
  struct Completion {
    std::uint64_t id;
    std::string bytes;
    bool close;
  };
  using Clock = std::chrono::steady_clock;

  void ioLoop();
  void workerLoop();
  void acceptAll(Clock::time_point now);
  void readFrom(Connection& c, Clock::time_point now);
  void processInput(Connection& c, Clock::time_point now);
  void refuse(Connection& c, int status, const std::string& code, const std::string& message, Clock::time_point now);
  void startWrite(Connection& c, std::string bytes, bool close, Clock::time_point now);
  void writeTo(Connection& c, Clock::time_point now);
  void afterWrite(Connection& c, Clock::time_point now);
  void linger(Connection& c, Clock::time_point now);
  void takeCompletions(Clock::time_point now);
  void sweep(Clock::time_point now);
  bool shedOne(const char* reason);
  void close(Connection& c, const char* reason);
  void reap();
  std::size_t openConnections() const { return connections_.size() - closing_.size(); }
  void watch(Connection& c, std::uint32_t events);
  void wake();
  metrics::Counter& closedCounter(const char* reason);

  HttpServerOptions options_;
  std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> factory_;
  std::size_t max_connections_ = 0;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::uint16_t bound_port_ = 0;
  Poco::Net::SocketAddress server_address_;
  bool accepting_ = true;
  Clock::time_point accept_paused_until_{};
  Clock::time_point drain_deadline_{};
  std::uint64_t next_id_ = 16;  // ids below are the listening socket and the wake-up fd
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;  // io thread only
  std::vector<std::uint64_t> closing_;                                         // closed this turn, reaped at its end

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::thread io_thread_;
  std::vector<std::thread> workers_;

  std::mutex jobs_mutex_;
  std::condition_variable jobs_ready_;
  std::deque<std::unique_ptr<Job>> jobs_;
  bool workers_stop_ = false;

  std::mutex done_mutex_;
  std::vector<Completion> done_;

  metrics::Gauge* open_gauge_ = nullptr;
  metrics::Counter* accepted_ = nullptr;
};

}  // namespace billing::http
