#include "common/http_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/ServerSocket.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/buffered_exchange.h"
#include "common/http_util.h"
#include "common/json_log.h"
#include "common/metrics.h"

namespace billing::http {
namespace {

constexpr std::uint64_t kListenId = 1;
constexpr std::uint64_t kWakeId = 2;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerTurn = 4;  // then other connections get their turn (epoll is level-triggered)
constexpr auto kLinger = std::chrono::seconds(2);
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
constexpr std::size_t kReservedDescriptors = 256;  // Kafka, PostgreSQL, logs: not for clients

// Gives the process as many descriptors as its hard limit allows: each connection holds one.
std::size_t raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::string errorResponse(int status, const std::string& code, const std::string& message, bool keep_alive) {
  BufferedResponse response;
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.send() << errorBody(status >= 500 ? "api_error" : "invalid_request_error", code, message).dump();
  return response.serialize(keep_alive, false);
}

}  // namespace

struct HttpServer::Connection {
  enum class State { Reading, Processing, Writing, Lingering, Closed };

  Connection(std::uint64_t connection_id, int socket_fd, Poco::Net::SocketAddress peer_address, const RequestLimits& limits)
      : id(connection_id), fd(socket_fd), peer(std::move(peer_address)), reader(limits) {}
  ~Connection() { ::close(fd); }

  std::uint64_t id;
  int fd;
  Poco::Net::SocketAddress peer;
  RequestReader reader;
  State state = State::Reading;
  std::string in;
  std::string out;
  std::size_t out_sent = 0;
  bool close_after_write = false;
  bool peer_closed = false;
  std::uint32_t events = 0;  // epoll interest; 0 = not registered
  const char* deadline_kind = "idle";  // idle, header, body, write, linger
  Clock::time_point deadline{};
  Clock::time_point waiting_since{};  // since when it has been waiting for its client (for shedding)
};

struct HttpServer::Job {
  std::uint64_t id;
  ParsedRequest request;
  Poco::Net::SocketAddress client;
};

HttpServer::HttpServer(HttpServerOptions options, std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  auto& registry = metrics::defaultRegistry();
  open_gauge_ = &registry.gauge("billing_http_connections", "Open client connections", {{"server", options_.name}});
  accepted_ = &registry.counter("billing_http_connections_accepted_total", "Client connections accepted",
                                {{"server", options_.name}});
}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

metrics::Counter& HttpServer::closedCounter(const char* reason) {
  return metrics::defaultRegistry().counter(
      "billing_http_connections_closed_total",
      "Client connections closed by the server before the client closed them, by reason",
      {{"server", options_.name}, {"reason", reason}});
}

void HttpServer::start() {
  const auto descriptors = raiseDescriptorLimit();
  max_connections_ = std::min(options_.connections.max_connections,
                              descriptors > kReservedDescriptors * 2 ? descriptors - kReservedDescriptors : descriptors / 2);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(options_.host, options_.port), 1024);
  server_address_ = socket.address();
  bound_port_ = server_address_.port();
  listen_fd_ = ::dup(socket.impl()->sockfd());  // ours to keep after Poco's socket object goes
  socket.close();
  ::fcntl(listen_fd_, F_SETFD, FD_CLOEXEC);
  ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (listen_fd_ < 0 || epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("http server: " + std::string(std::strerror(errno)));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = kWakeId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { workerLoop(); });
  io_thread_ = std::thread([this] { ioLoop(); });
  if (max_connections_ < options_.connections.max_connections) {
    log::warn("http connection cap lowered to the descriptor limit",
              {{"server", options_.name}, {"max_connections", max_connections_}, {"descriptors", descriptors}});
  }
}

void HttpServer::stop(std::chrono::milliseconds drain) {
  if (!started_.exchange(false)) return;
  drain_deadline_ = Clock::now() + drain;
  stopping_ = true;
  wake();
  io_thread_.join();
  {
    std::lock_guard lock(jobs_mutex_);
    workers_stop_ = true;
  }
  jobs_ready_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  connections_.clear();
  open_gauge_->set(0);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ::close(epoll_fd_);
  ::close(wake_fd_);
  listen_fd_ = epoll_fd_ = wake_fd_ = -1;
}

void HttpServer::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void HttpServer::watch(Connection& c, std::uint32_t events) {
  // Registered only while something is awaited: a hung-up socket would otherwise be reported on every turn.
  if (c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  const int op = c.events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  ::epoll_ctl(epoll_fd_, op, c.fd, op == EPOLL_CTL_DEL ? nullptr : &ev);
  c.events = events;
}

void HttpServer::ioLoop() {
  std::vector<epoll_event> events(256);
  auto last_sweep = Clock::now();
  while (true) {
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const auto id = events[i].data.u64;
      if (id == kListenId) {
        acceptAll(now);
      } else if (id == kWakeId) {
        std::uint64_t count;
        while (::read(wake_fd_, &count, sizeof count) > 0) {
        }
      } else if (auto it = connections_.find(id); it != connections_.end()) {
        auto& c = *it->second;
        const auto flags = events[i].events;
        if (c.state == Connection::State::Writing && (flags & (EPOLLOUT | EPOLLERR | EPOLLHUP))) writeTo(c, now);
        else if (c.state == Connection::State::Reading && (flags & (EPOLLIN | EPOLLERR | EPOLLHUP))) readFrom(c, now);
        else if (c.state == Connection::State::Lingering && (flags & (EPOLLIN | EPOLLERR | EPOLLHUP))) linger(c, now);
      }
    }
    takeCompletions(now);
    if (now - last_sweep >= kSweepEvery) {
      sweep(now);
      last_sweep = now;
    }
    reap();
    if (stopping_) {
      if (listen_fd_ >= 0) {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        ::close(listen_fd_);
        listen_fd_ = -1;
      }
      std::vector<std::uint64_t> waiting;
      bool busy = false;
      for (auto& [id, c] : connections_) {
        if (c->state == Connection::State::Reading || c->state == Connection::State::Lingering) waiting.push_back(id);
        else busy = true;
      }
      for (auto id : waiting) close(*connections_.at(id), "shutdown");
      reap();
      if (!busy || now >= drain_deadline_) break;
    }
  }
}

void HttpServer::acceptAll(Clock::time_point now) {
  if (!accepting_) return;
  while (true) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && shedOne("descriptor_limit")) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Nothing to shed: stop listening for a moment instead of spinning on a queue we can't take from.
        accepting_ = false;
        accept_paused_until_ = now + std::chrono::milliseconds(100);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        log::warn("http accept paused: no descriptors left", {{"server", options_.name}});
      }
      return;
    }
    if (openConnections() >= max_connections_ && !shedOne("connection_cap")) {
      ::close(fd);
      closedCounter("over_capacity").inc();
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto id = next_id_++;
    auto c = std::make_unique<Connection>(
        id, fd, Poco::Net::SocketAddress(reinterpret_cast<sockaddr*>(&address), length), options_.request);
    c->deadline = now + std::chrono::seconds(options_.connections.header_timeout_seconds);
    c->deadline_kind = "header";  // a new connection must start its request within the header timeout
    c->waiting_since = now;
    watch(*c, EPOLLIN);
    connections_.emplace(id, std::move(c));
    accepted_->inc();
    open_gauge_->set(static_cast<double>(connections_.size()));
  }
}

bool HttpServer::shedOne(const char* reason) {
  // The connection that has waited longest for its client: idle keep-alive, or a request arriving too slowly.
  Connection* oldest = nullptr;
  for (auto& [id, c] : connections_) {
    if (c->state != Connection::State::Reading && c->state != Connection::State::Lingering) continue;
    if (!oldest || c->waiting_since < oldest->waiting_since) oldest = c.get();
  }
  if (!oldest) return false;
  close(*oldest, reason);
  return true;
}

void HttpServer::close(Connection& c, const char* reason) {
  // Marked here, destroyed by reap() at the end of the turn: callers up the stack may still hold `c`.
  if (c.state == Connection::State::Closed) return;
  watch(c, 0);
  c.state = Connection::State::Closed;
  if (reason) closedCounter(reason).inc();
  closing_.push_back(c.id);
}

void HttpServer::reap() {
  for (auto id : closing_) connections_.erase(id);
  closing_.clear();
  open_gauge_->set(static_cast<double>(connections_.size()));
}

void HttpServer::readFrom(Connection& c, Clock::time_point now) {
  char buffer[kReadChunk];
  for (int turn = 0; turn < kReadsPerTurn && c.state == Connection::State::Reading; ++turn) {
    auto got = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (got > 0) {
      c.in.append(buffer, static_cast<std::size_t>(got));
      processInput(c, now);
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    // The client closed (or the connection broke). A request cut short is not answered: nobody is left to read it.
    const bool mid_request = c.reader.started();
    close(c, mid_request ? "client_closed_mid_request" : nullptr);
    return;
  }
}

void HttpServer::processInput(Connection& c, Clock::time_point now) {
  const bool was_started = c.reader.started();
  const bool was_body = c.reader.readingBody();
  auto step = c.reader.read(c.in);
  if (!was_started && c.reader.started()) {
    c.deadline = now + std::chrono::seconds(options_.connections.header_timeout_seconds);
    c.deadline_kind = "header";
  }
  if (!was_body && c.reader.readingBody()) {
    c.deadline = now + std::chrono::seconds(options_.connections.body_timeout_seconds);
    c.deadline_kind = "body";
  }
  if (c.reader.takeContinueRequest()) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kContinue.size())) {
      close(c, "write_failed");
      return;
    }
  }
  switch (step) {
    case RequestReader::Step::NeedMore:
      return;
    case RequestReader::Step::Refused: {
      const auto& r = c.reader.refusal();
      refuse(c, r.status, r.code, r.message, now);
      return;
    }
    case RequestReader::Step::Complete: {
      auto job = std::make_unique<Job>(Job{c.id, c.reader.take(), c.peer});
      c.state = Connection::State::Processing;
      watch(c, 0);  // no reading while the request is handled: a pipelined next request waits its turn
      {
        std::lock_guard lock(jobs_mutex_);
        jobs_.push_back(std::move(job));
      }
      jobs_ready_.notify_one();
      return;
    }
  }
}

void HttpServer::refuse(Connection& c, int status, const std::string& code, const std::string& message,
                        Clock::time_point now) {
  metrics::defaultRegistry()
      .counter("billing_http_requests_refused_total", "Requests refused by the HTTP layer before any handler, by reason",
               {{"server", options_.name}, {"reason", code}})
      .inc();
  startWrite(c, errorResponse(status, code, message, false), true, now);
}

void HttpServer::startWrite(Connection& c, std::string bytes, bool close_after, Clock::time_point now) {
  c.out = std::move(bytes);
  c.out_sent = 0;
  c.close_after_write = close_after;
  c.state = Connection::State::Writing;
  c.deadline = now + std::chrono::seconds(options_.connections.write_timeout_seconds);
  c.deadline_kind = "write";
  writeTo(c, now);
}

void HttpServer::writeTo(Connection& c, Clock::time_point now) {
  while (c.out_sent < c.out.size()) {
    auto sent = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (sent > 0) {
      c.out_sent += static_cast<std::size_t>(sent);
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      watch(c, EPOLLOUT);
      return;
    }
    close(c, "write_failed");
    return;
  }
  afterWrite(c, now);
}

void HttpServer::afterWrite(Connection& c, Clock::time_point now) {
  c.out.clear();
  c.out.shrink_to_fit();
  if (c.close_after_write) {
    // Half-close and read what the client still sends for a moment: closing with unread input would reset the
    // connection, and a client could lose the answer it has not read yet.
    ::shutdown(c.fd, SHUT_WR);
    c.in.clear();
    c.state = Connection::State::Lingering;
    c.deadline = now + kLinger;
    c.deadline_kind = "linger";
    watch(c, EPOLLIN);
    return;
  }
  c.state = Connection::State::Reading;
  c.deadline = now + std::chrono::seconds(options_.connections.idle_timeout_seconds);
  c.deadline_kind = "idle";
  c.waiting_since = now;
  watch(c, EPOLLIN);
  if (!c.in.empty()) processInput(c, now);  // a pipelined request read earlier
}

void HttpServer::linger(Connection& c, Clock::time_point) {
  char buffer[kReadChunk];
  for (int turn = 0; turn < kReadsPerTurn; ++turn) {
    auto got = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (got > 0) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    close(c, nullptr);
    return;
  }
}

void HttpServer::takeCompletions(Clock::time_point now) {
  std::vector<Completion> done;
  {
    std::lock_guard lock(done_mutex_);
    done.swap(done_);
  }
  for (auto& d : done) {
    auto it = connections_.find(d.id);
    if (it == connections_.end() || it->second->state != Connection::State::Processing) continue;
    startWrite(*it->second, std::move(d.bytes), d.close, now);
  }
}

void HttpServer::sweep(Clock::time_point now) {
  if (!accepting_ && now >= accept_paused_until_ && listen_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    accepting_ = true;
  }
  std::vector<std::uint64_t> expired;
  for (auto& [id, c] : connections_) {
    if (c->state != Connection::State::Processing && c->state != Connection::State::Closed && now >= c->deadline) {
      expired.push_back(id);
    }
  }
  for (auto id : expired) {
    auto& c = *connections_.at(id);
    const std::string kind = c.deadline_kind;
    if (c.state == Connection::State::Reading && (kind == "header" || kind == "body") && c.reader.started()) {
      // Too slow: say so (RFC 9110 section 15.5.9), then close.
      refuse(c, 408, "request_timeout", "the request was not received within " +
                                             std::to_string(kind == "header" ? options_.connections.header_timeout_seconds
                                                                             : options_.connections.body_timeout_seconds) +
                                             " s",
             now);
      continue;
    }
    close(c, kind == "idle" || kind == "header" ? "idle_timeout" : kind == "write" ? "write_timeout" : nullptr);
  }
}

void HttpServer::workerLoop() {
  while (true) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_ready_.wait(lock, [this] { return workers_stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const bool head = job->request.method == "HEAD";
    BufferedResponse response;
    BufferedRequest request(std::move(job->request), job->client, server_address_, response);
    const bool wants_keep_alive = request.getKeepAlive();
    try {
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory_->createRequestHandler(request));
      if (handler) handler->handleRequest(request, response);
    } catch (const std::exception& e) {
      log::error("http handler failed", {{"server", options_.name}, {"error", e.what()}});
    }
    std::string bytes;
    bool keep_alive = wants_keep_alive && response.getKeepAlive() && !stopping_;
    if (response.sent()) {
      bytes = response.serialize(keep_alive, head);
    } else {
      keep_alive = false;
      bytes = errorResponse(500, "internal_error", "the request could not be handled", false);
      metrics::defaultRegistry()
          .counter("billing_http_handler_failures_total", "Requests whose handler sent no answer",
                   {{"server", options_.name}})
          .inc();
    }
    {
      std::lock_guard lock(done_mutex_);
      done_.push_back({job->id, std::move(bytes), !keep_alive});
    }
    wake();
  }
}

}  // namespace billing::http
