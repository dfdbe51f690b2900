#include "common/http_request_reader.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace billing::http {
namespace {

constexpr std::size_t kMaxChunkLine = 4096;     // chunk size plus extensions
constexpr std::size_t kMaxTrailerBytes = 8192;  // trailers are read and dropped

// RFC 9110 section 5.6.2: token characters.
bool isTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isTokenChar(static_cast<unsigned char>(c)); });
}

// Field values: visible characters, space, tab and obs-text; no NUL or other controls (RFC 9110 section 5.5).
bool isFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

bool isHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Origin-form, or "*" for OPTIONS only (RFC 9112 section 3.2.4): visible ASCII only, and every '%' starts a
// two-digit escape.
bool isValidTarget(std::string_view method, std::string_view t) {
  if (t == "*") return method == "OPTIONS";
  if (t.empty() || t.front() != '/') return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c == '%' && (i + 2 >= t.size() || !isHex(t[i + 1]) || !isHex(t[i + 2]))) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A header or trailer line "name: value"; false when it isn't one.
bool splitField(std::string_view line, std::string_view& name, std::string_view& value) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  name = line.substr(0, colon);
  value = trim(line.substr(colon + 1));
  return isToken(name);
}

}  // namespace

RequestReader::Step RequestReader::refuse(int status, std::string code, std::string message) {
  phase_ = Phase::Refused;
  refusal_ = {status, std::move(code), std::move(message)};
  return Step::Refused;
}

bool RequestReader::takeContinueRequest() {
  bool wanted = continue_requested_;
  continue_requested_ = false;
  return wanted;
}

ParsedRequest RequestReader::take() {
  ParsedRequest done = std::move(request_);
  request_ = {};
  phase_ = Phase::Head;
  started_ = false;
  continue_requested_ = false;
  scanned_ = 0;
  remaining_ = 0;
  trailer_bytes_ = 0;
  return done;
}

RequestReader::Step RequestReader::read(std::string& buffer) {
  switch (phase_) {
    case Phase::Head:
      return readHead(buffer);
    case Phase::FixedBody:
      return readFixedBody(buffer);
    case Phase::ChunkSize:
    case Phase::ChunkData:
    case Phase::ChunkDataEnd:
    case Phase::Trailers:
      return readChunked(buffer);
    case Phase::Done:
      return Step::Complete;
    case Phase::Refused:
      return Step::Refused;
  }
  return Step::Refused;
}

RequestReader::Step RequestReader::readHead(std::string& buffer) {
  // RFC 9112 section 2.2: empty lines before a request line are ignored.
  while (!started_ && buffer.size() >= 2 && buffer[0] == '\r' && buffer[1] == '\n') buffer.erase(0, 2);
  if (buffer.empty()) return Step::NeedMore;
  started_ = true;
  auto end = buffer.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
  // A bare LF (or CR) can't end a line here: refuse it as it arrives instead of waiting for a CRLF CRLF that a
  // client ending its lines with LF never sends.
  for (auto i = scanned_; i < (end == std::string::npos ? buffer.size() : end); ++i) {
    if ((buffer[i] == '\n' && (i == 0 || buffer[i - 1] != '\r')) ||
        (buffer[i] == '\r' && i + 1 < buffer.size() && buffer[i + 1] != '\n')) {
      return refuse(400, "invalid_line_ending", "lines must end with CRLF; a bare CR or LF is not allowed");
    }
  }
  if (end == std::string::npos) {
    scanned_ = buffer.size() > 0 && buffer.back() == '\r' ? buffer.size() - 1 : buffer.size();
    auto line_end = buffer.find("\r\n");
    if ((line_end == std::string::npos ? buffer.size() : line_end) > limits_.max_request_line) {
      return refuse(414, "uri_too_long", "request line over " + std::to_string(limits_.max_request_line) + " bytes");
    }
    if (buffer.size() > limits_.max_head_bytes) {
      return refuse(431, "headers_too_large", "request head over " + std::to_string(limits_.max_head_bytes) + " bytes");
    }
    return Step::NeedMore;
  }
  if (end + 4 > limits_.max_head_bytes) {
    return refuse(431, "headers_too_large", "request head over " + std::to_string(limits_.max_head_bytes) + " bytes");
  }
  std::string head = buffer.substr(0, end + 2);  // every line with its CRLF
  buffer.erase(0, end + 4);
  auto step = parseHead(head);
  if (step != Step::NeedMore) return step;
  return read(buffer);
}

RequestReader::Step RequestReader::parseHead(const std::string& head) {
  std::vector<std::string_view> lines;
  std::string_view rest(head);
  while (!rest.empty()) {
    auto crlf = rest.find("\r\n");
    auto line = rest.substr(0, crlf);
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      return refuse(400, "invalid_line_ending", "lines must end with CRLF; a bare CR or LF is not allowed");
    }
    lines.push_back(line);
    rest.remove_prefix(crlf + 2);
  }

  // Request line: method SP request-target SP HTTP-version, single spaces (RFC 9112 section 3).
  const auto request_line = lines.front();
  if (request_line.size() > limits_.max_request_line) {
    return refuse(414, "uri_too_long", "request line over " + std::to_string(limits_.max_request_line) + " bytes");
  }
  auto sp1 = request_line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    return refuse(400, "invalid_request_line", "the request line must be: METHOD SP target SP HTTP/1.1");
  }
  auto method = request_line.substr(0, sp1);
  auto target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = request_line.substr(sp2 + 1);
  if (!isToken(method) || method.size() > 32) return refuse(400, "invalid_method", "the method is not a valid token");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return refuse(400, "unsupported_http_version", "only HTTP/1.1 and HTTP/1.0 are served");
  }
  if (!isValidTarget(method, target)) {
    return refuse(400, "invalid_uri",
                  "the request target must be a path of visible ASCII characters with valid percent escapes");
  }
  const bool http11 = version == "HTTP/1.1";
  request_.method = method;
  request_.target = target;
  request_.version = version;
  request_.keep_alive = http11;

  if (lines.size() - 1 > limits_.max_headers) {
    return refuse(431, "headers_too_large", "more than " + std::to_string(limits_.max_headers) + " header fields");
  }
  int content_lengths = 0, transfer_encodings = 0, hosts = 0;
  bool chunked = false;
  std::size_t content_length = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') {
      return refuse(400, "obsolete_line_folding", "folded header lines are not accepted");
    }
    std::string_view name, value;
    if (line.find(':') == std::string_view::npos) return refuse(400, "invalid_header", "a header line has no colon");
    if (!splitField(line, name, value)) {
      return refuse(400, "invalid_header", "a header name is not a token (no spaces before the colon)");
    }
    if (!isFieldValue(value)) return refuse(400, "invalid_header", "a header value contains control characters");
    const auto key = lower(name);
    if (key == "content-length") {
      if (++content_lengths > 1) {
        return refuse(400, "ambiguous_framing", "more than one Content-Length header");
      }
      if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return refuse(400, "invalid_content_length", "Content-Length must be a non-negative decimal integer");
      }
      if (value.size() > 18) return refuse(413, "body_too_large", "body over " + std::to_string(limits_.max_body_bytes) + " bytes");
      content_length = static_cast<std::size_t>(std::stoull(std::string(value)));
    } else if (key == "transfer-encoding") {
      if (++transfer_encodings > 1) return refuse(400, "ambiguous_framing", "more than one Transfer-Encoding header");
      if (!http11) return refuse(400, "ambiguous_framing", "Transfer-Encoding is not allowed in HTTP/1.0");
      if (lower(value) != "chunked") {
        return refuse(400, "unsupported_transfer_encoding", "the only transfer coding accepted is chunked");
      }
      chunked = true;
    } else if (key == "host") {
      if (++hosts > 1) return refuse(400, "invalid_host", "more than one Host header");
    } else if (key == "connection") {
      std::string_view tokens(value);
      while (!tokens.empty()) {
        auto comma = tokens.find(',');
        auto token = lower(trim(tokens.substr(0, comma)));
        if (token == "close") request_.keep_alive = false;
        if (token == "keep-alive" && !http11) request_.keep_alive = true;
        tokens.remove_prefix(comma == std::string_view::npos ? tokens.size() : comma + 1);
      }
    } else if (key == "expect") {
      if (lower(value) != "100-continue") return refuse(417, "expectation_failed", "only Expect: 100-continue is supported");
      continue_requested_ = http11;
    }
    request_.headers.emplace_back(name, value);
  }
  if (http11 && hosts == 0) return refuse(400, "invalid_host", "HTTP/1.1 requests must carry a Host header");
  if (content_lengths > 0 && chunked) {
    return refuse(400, "ambiguous_framing", "Content-Length and Transfer-Encoding together");
  }
  if (content_length > limits_.max_body_bytes) {
    return refuse(413, "body_too_large", "body over " + std::to_string(limits_.max_body_bytes) + " bytes");
  }
  if (chunked) {
    phase_ = Phase::ChunkSize;
  } else if (content_length > 0) {
    phase_ = Phase::FixedBody;
    remaining_ = content_length;
    request_.body.reserve(content_length);
  } else {
    phase_ = Phase::Done;  // no framing header: no body (RFC 9112 section 6.3, rule 7)
    continue_requested_ = false;
    return Step::Complete;
  }
  return Step::NeedMore;
}

RequestReader::Step RequestReader::readFixedBody(std::string& buffer) {
  auto take = std::min(remaining_, buffer.size());
  request_.body.append(buffer, 0, take);
  buffer.erase(0, take);
  remaining_ -= take;
  if (remaining_ > 0) return Step::NeedMore;
  phase_ = Phase::Done;
  return Step::Complete;
}

RequestReader::Step RequestReader::readChunked(std::string& buffer) {
  // RFC 9112 section 7.1: chunk = size [ext] CRLF data CRLF; last-chunk = "0" [ext] CRLF; trailers; CRLF.
  while (true) {
    if (phase_ == Phase::ChunkSize) {
      auto crlf = buffer.find("\r\n");
      if (crlf == std::string::npos) {
        if (buffer.size() > kMaxChunkLine) return refuse(400, "invalid_chunk", "chunk size line too long");
        return Step::NeedMore;
      }
      std::string_view line(buffer.data(), crlf);
      std::size_t digits = 0;
      while (digits < line.size() && isHex(line[digits])) ++digits;
      if (digits == 0 || digits > 16) return refuse(400, "invalid_chunk", "a chunk size is not a hexadecimal number");
      auto ext = trim(line.substr(digits));
      if (crlf > kMaxChunkLine || (!ext.empty() && (ext.front() != ';' || !isFieldValue(ext)))) {
        return refuse(400, "invalid_chunk", "malformed chunk extension");
      }
      const auto size = std::stoull(std::string(line.substr(0, digits)), nullptr, 16);
      buffer.erase(0, crlf + 2);
      if (size == 0) {
        phase_ = Phase::Trailers;
        continue;
      }
      if (size > limits_.max_body_bytes || request_.body.size() + size > limits_.max_body_bytes) {
        return refuse(413, "body_too_large", "body over " + std::to_string(limits_.max_body_bytes) + " bytes");
      }
      remaining_ = static_cast<std::size_t>(size);
      phase_ = Phase::ChunkData;
    }
    if (phase_ == Phase::ChunkData) {
      auto take = std::min(remaining_, buffer.size());
      request_.body.append(buffer, 0, take);
      buffer.erase(0, take);
      remaining_ -= take;
      if (remaining_ > 0) return Step::NeedMore;
      phase_ = Phase::ChunkDataEnd;
    }
    if (phase_ == Phase::ChunkDataEnd) {
      if (buffer.size() < 2) return Step::NeedMore;
      if (buffer[0] != '\r' || buffer[1] != '\n') return refuse(400, "invalid_chunk", "chunk data longer than its size");
      buffer.erase(0, 2);
      phase_ = Phase::ChunkSize;
      continue;
    }
    if (phase_ == Phase::Trailers) {
      auto crlf = buffer.find("\r\n");
      if (crlf == std::string::npos) {
        if (trailer_bytes_ + buffer.size() > kMaxTrailerBytes) return refuse(431, "headers_too_large", "trailers too large");
        return Step::NeedMore;
      }
      std::string_view line(buffer.data(), crlf);
      if (line.empty()) {
        buffer.erase(0, 2);
        phase_ = Phase::Done;
        return Step::Complete;
      }
      std::string_view name, value;
      trailer_bytes_ += crlf + 2;
      if (trailer_bytes_ > kMaxTrailerBytes) return refuse(431, "headers_too_large", "trailers too large");
      if (line.find_first_of("\r\n") != std::string_view::npos || !splitField(line, name, value) || !isFieldValue(value)) {
        return refuse(400, "invalid_chunk", "malformed trailer field");
      }
      buffer.erase(0, crlf + 2);  // trailers are not passed on: nothing here needs them
      continue;
    }
    return Step::NeedMore;
  }
}

}  // namespace billing::http
