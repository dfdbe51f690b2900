// The strict request reader (common/http_request_reader.h), case by case. What it must refuse follows RFC 9112:
// section 2.2 (CRLF, bare CR), 3 (request line), 5.1 (no whitespace before the colon), 5.2 (no line folding),
// 6.1 and 6.3 (Transfer-Encoding with Content-Length, invalid Content-Length), 7.1 (chunked), 3.2 (Host).
#include <catch2/catch.hpp>
#include <string>

#include "common/http_request_reader.h"

using billing::http::ParsedRequest;
using billing::http::RequestLimits;
using billing::http::RequestReader;

namespace {

struct Outcome {
  RequestReader::Step step = RequestReader::Step::NeedMore;
  int status = 0;
  std::string code;
  ParsedRequest request;
  std::string left;  // unread bytes after the request
};

// Feeds `bytes` in pieces of `piece` bytes (1 = byte by byte, as a slow client sends them).
Outcome readAll(const std::string& bytes, std::size_t piece = 1 << 20, RequestLimits limits = {}) {
  RequestReader reader(limits);
  std::string buffer;
  RequestReader::Step step = RequestReader::Step::NeedMore;
  for (std::size_t at = 0; at < bytes.size() && step == RequestReader::Step::NeedMore; at += piece) {
    buffer.append(bytes.substr(at, piece));
    step = reader.read(buffer);
  }
  Outcome out;
  out.step = step;
  if (step == RequestReader::Step::Refused) {
    out.status = reader.refusal().status;
    out.code = reader.refusal().code;
  } else if (step == RequestReader::Step::Complete) {
    out.request = reader.take();
  }
  out.left = buffer;
  return out;
}

const std::string kPost = "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n";

}  // namespace

TEST_CASE("requests with valid framing are read whole, in any piece sizes") {
  for (std::size_t piece : {1u, 3u, 7u, 1000u}) {
    auto fixed = readAll(kPost + "Content-Length: 5\r\n\r\nhello", piece);
    REQUIRE(fixed.step == RequestReader::Step::Complete);
    CHECK(fixed.request.method == "POST");
    CHECK(fixed.request.target == "/webhooks/stripe");
    CHECK(fixed.request.body == "hello");
    CHECK(fixed.request.keep_alive);

    auto chunked = readAll(kPost + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", piece);
    REQUIRE(chunked.step == RequestReader::Step::Complete);
    CHECK(chunked.request.body == "hello world");
  }
  auto get = readAll("\r\nGET /healthz HTTP/1.0\r\n\r\n");  // leading empty line ignored; 1.0 needs no Host
  REQUIRE(get.step == RequestReader::Step::Complete);
  CHECK_FALSE(get.request.keep_alive);
  auto close = readAll("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_FALSE(close.request.keep_alive);
}

TEST_CASE("pipelined requests are read one at a time, the next left for later") {
  auto out = readAll("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(out.step == RequestReader::Step::Complete);
  CHECK(out.request.target == "/a");
  CHECK(out.left == "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  auto next = readAll(out.left);
  CHECK(next.request.target == "/b");
}

TEST_CASE("ambiguous or malformed framing is refused with 400, never guessed") {
  struct Case {
    const char* name;
    std::string bytes;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {"two Content-Length", kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, "ambiguous_framing"},
      {"two equal Content-Length", kPost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "ambiguous_framing"},
      {"Content-Length with chunked", kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "ambiguous_framing"},
      {"negative Content-Length", kPost + "Content-Length: -1\r\n\r\n", 400, "invalid_content_length"},
      {"signed Content-Length", kPost + "Content-Length: +5\r\n\r\nhello", 400, "invalid_content_length"},
      {"list Content-Length", kPost + "Content-Length: 5, 5\r\n\r\nhello", 400, "invalid_content_length"},
      {"hex Content-Length", kPost + "Content-Length: 0x5\r\n\r\nhello", 400, "invalid_content_length"},
      {"empty Content-Length", kPost + "Content-Length:\r\n\r\n", 400, "invalid_content_length"},
      {"Content-Length past int64", kPost + "Content-Length: 99999999999999999999999\r\n\r\n", 413, "body_too_large"},
      {"gzip then chunked", kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n", 400, "unsupported_transfer_encoding"},
      {"chunked twice", kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "ambiguous_framing"},
      {"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "ambiguous_framing"},
      {"header without colon", kPost + "Content-Length 5\r\n\r\nhello", 400, "invalid_header"},
      {"space before colon", kPost + "Content-Length : 5\r\n\r\nhello", 400, "invalid_header"},
      {"folded header", kPost + "X-A: 1\r\n  continued\r\n\r\n", 400, "obsolete_line_folding"},
      {"NUL in a value", kPost + std::string("X-A: a\0b\r\n\r\n", 13), 400, "invalid_header"},
      {"bare LF in the head", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "invalid_line_ending"},
      {"bare CR in the head", "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400, "invalid_line_ending"},
      {"HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "unsupported_http_version"},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, "unsupported_http_version"},
      {"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400, "unsupported_http_version"},
      {"no version", "GET /\r\nHost: x\r\n\r\n", 400, "invalid_request_line"},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request_line"},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request_line"},
      {"bad percent escape", "GET /v1/plans?x=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_uri"},
      {"truncated percent escape", "GET /v1/plans?x=% HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_uri"},
      {"absolute-form target", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_uri"},
      // found by fuzz/request_reader_fuzz.cpp: "*" is OPTIONS's alone (RFC 9112 section 3.2.4)
      {"asterisk target on a GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_uri"},
      {"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_uri"},
      {"method not a token", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_method"},
      {"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400, "invalid_host"},
      {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid_host"},
      {"chunk size not hex", kPost + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "invalid_chunk"},
      {"chunk longer than its size", kPost + "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 400, "invalid_chunk"},
      {"chunk size past 64 bits", kPost + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400, "invalid_chunk"},
      {"chunk bigger than the limit", kPost + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n", 413, "body_too_large"},
      {"bad trailer", kPost + "Transfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 400, "invalid_chunk"},
      {"Expect other than 100-continue", kPost + "Expect: something\r\nContent-Length: 1\r\n\r\nx", 417, "expectation_failed"},
      {"body over the limit", kPost + "Content-Length: 2000000\r\n\r\n", 413, "body_too_large"},
      {"head over the limit", kPost + "X-Big: " + std::string(40000, 'a') + "\r\n\r\n", 431, "headers_too_large"},
      {"request line over the limit", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414, "uri_too_long"},
  };
  for (const auto& c : cases) {
    for (std::size_t piece : {1u, 4096u}) {
      INFO(c.name << " (pieces of " << piece << ")");
      auto out = readAll(c.bytes, piece);
      REQUIRE(out.step == RequestReader::Step::Refused);
      CHECK(out.status == c.status);
      CHECK(out.code == c.code);
    }
  }
}

TEST_CASE("too many header fields are refused with 431") {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 101; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  auto out = readAll(head + "\r\n");
  CHECK(out.status == 431);
}

TEST_CASE("a request without a framing header has no body, and an incomplete one waits for more") {
  auto post = readAll(kPost + "\r\n{\"x\":1}");
  REQUIRE(post.step == RequestReader::Step::Complete);
  CHECK(post.request.body.empty());
  CHECK(post.left == "{\"x\":1}");  // not a body: the start of a next request, which will be refused

  CHECK(readAll(kPost + "Content-Length: 10\r\n\r\nhello").step == RequestReader::Step::NeedMore);
  CHECK(readAll(kPost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel").step == RequestReader::Step::NeedMore);
  CHECK(readAll("GET / HTTP/1.1\r\nHost").step == RequestReader::Step::NeedMore);
}

TEST_CASE("Expect: 100-continue is signalled once, and only when a body is to come") {
  RequestReader reader({});
  std::string buffer = kPost + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  CHECK(reader.read(buffer) == RequestReader::Step::NeedMore);
  CHECK(reader.takeContinueRequest());
  CHECK_FALSE(reader.takeContinueRequest());
  buffer += "ok";
  CHECK(reader.read(buffer) == RequestReader::Step::Complete);
  CHECK(reader.take().body == "ok");

  std::string no_body = "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n";
  CHECK(reader.read(no_body) == RequestReader::Step::Complete);
  CHECK_FALSE(reader.takeContinueRequest());
}
