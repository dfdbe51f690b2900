#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace billing::http {

/// Bounds on one request, enforced while its bytes arrive.
struct RequestLimits {
  std::size_t max_request_line = 8 * 1024;  // 414 above
  std::size_t max_head_bytes = 32 * 1024;   // request line + headers; 431 above
  std::size_t max_headers = 100;            // 431 above
  std::size_t max_body_bytes = 1024 * 1024; // 413 above (a handler may refuse less)
};

/// One complete request, framing removed: `body` is the decoded body whatever the transfer coding was.
struct ParsedRequest {
  std::string method;
  std::string target;   // origin-form: "/path?query"
  std::string version;  // "HTTP/1.0" or "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  bool keep_alive = true;
};

/// Why a request was refused. Every refusal closes the connection: after a framing error nothing that follows on
/// the connection can be trusted to start a request (RFC 9112 section 6.3 and 11.2, request smuggling).
struct Refusal {
  int status = 400;
  std::string code;     // machine-readable, also the metrics label
  std::string message;  // for the client; never echoes the request
};

/// Reads requests from a connection's bytes strictly by RFC 9112, one at a time. Ambiguous or malformed framing is
/// refused rather than guessed: two Content-Length headers, Content-Length with Transfer-Encoding, a coding other
/// than chunked, a header line without a colon or with space before it, folded lines, bare CR or LF, control
/// characters, an HTTP version other than 1.0 or 1.1, an invalid percent escape in the target, a missing Host in
/// HTTP/1.1. Pure (no I/O), so it is unit-tested and fuzzed as it is.
class RequestReader {
 public:
  enum class Step { NeedMore, Complete, Refused };

  explicit RequestReader(RequestLimits limits) : limits_(limits) {}

  /// Consumes bytes from the front of `buffer` (the connection's unread input) and returns whether a request is
  /// complete (take it with take()), more bytes are needed, or the request is refused (see refusal()). Bytes after
  /// a complete request stay in `buffer`: the next pipelined request.
  Step read(std::string& buffer);

  /// Whether any byte of the current request has arrived (an idle keep-alive connection has none).
  bool started() const { return started_; }
  /// Whether the head is complete and the body is still being read.
  bool readingBody() const { return phase_ == Phase::FixedBody || phase_ == Phase::ChunkSize || phase_ == Phase::ChunkData ||
                                    phase_ == Phase::ChunkDataEnd || phase_ == Phase::Trailers; }
  /// True once per request whose head asked for `Expect: 100-continue` and whose body is still to come.
  bool takeContinueRequest();

  ParsedRequest take();
  const Refusal& refusal() const { return refusal_; }

 private:
  enum class Phase { Head, FixedBody, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done, Refused };

  Step refuse(int status, std::string code, std::string message);
  Step parseHead(const std::string& head);
  Step readHead(std::string& buffer);
  Step readFixedBody(std::string& buffer);
  Step readChunked(std::string& buffer);

  RequestLimits limits_;
  Phase phase_ = Phase::Head;
  bool started_ = false;
  bool continue_requested_ = false;
  std::size_t scanned_ = 0;         // head bytes already searched for the blank line
  std::size_t remaining_ = 0;       // body or chunk bytes still to come
  std::size_t trailer_bytes_ = 0;
  ParsedRequest request_;
  Refusal refusal_;
};

}  // namespace billing::http
