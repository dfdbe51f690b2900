// The HTTP/1.1 request reader every role's port uses, over any bytes, fed in pieces of a fuzzed size (as a slow or
// pipelining client sends them): no crash, no request past the limits, a refusal is one of the statuses the reader
// documents, a request is origin-form HTTP/1.0 or 1.1, and the bytes after a request stay for the next one.
// Input: one byte choosing the piece size, then the stream.
#include <cstdint>
#include <string>

#include "common/http_request_reader.h"
#include "fuzz/fuzz_check.h"

using billing::http::RequestReader;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = 1 + data[0] % 64;
  std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  billing::http::RequestLimits limits;
  limits.max_request_line = 256;  // small limits so the fuzzer reaches them
  limits.max_head_bytes = 1024;
  limits.max_headers = 16;
  limits.max_body_bytes = 2048;

  std::string buffer;
  std::size_t fed = 0;
  for (int requests = 0; requests < 64; ++requests) {
    RequestReader reader(limits);
    RequestReader::Step step = reader.read(buffer);  // what a pipelined predecessor left may be a whole request
    while (step == RequestReader::Step::NeedMore && fed < stream.size()) {
      buffer.append(stream, fed, piece);
      fed += piece;
      step = reader.read(buffer);
      reader.takeContinueRequest();
    }
    if (step == RequestReader::Step::NeedMore) return 0;  // the stream ended mid-request
    if (step == RequestReader::Step::Refused) {
      int status = reader.refusal().status;
      FUZZ_CHECK(status == 400 || status == 413 || status == 414 || status == 417 || status == 431,
                 "a refusal has a documented status");
      FUZZ_CHECK(!reader.refusal().code.empty(), "a refusal has a code");
      return 0;  // the server closes the connection after a refusal
    }
    auto request = reader.take();
    FUZZ_CHECK(!request.method.empty(), "a request has a method");
    FUZZ_CHECK((!request.target.empty() && request.target[0] == '/') ||
                   (request.target == "*" && request.method == "OPTIONS"),
               "the target is origin-form (or * for OPTIONS)");
    FUZZ_CHECK(request.version == "HTTP/1.0" || request.version == "HTTP/1.1", "the version is 1.0 or 1.1");
    FUZZ_CHECK(request.body.size() <= limits.max_body_bytes, "the body is within the limit");
    FUZZ_CHECK(request.headers.size() <= limits.max_headers, "the headers are within the limit");
    for (const auto& [name, value] : request.headers) {
      FUZZ_CHECK(!name.empty(), "a header has a name");
      for (unsigned char c : value) FUZZ_CHECK(c >= 0x20 || c == '\t', "no control byte in a header value");
    }
    if (!request.keep_alive) return 0;
  }
  return 0;
}
