// An incremental RESP2 reply parser for the Redis client (resp_client.h): bytes go in as the
// socket delivers them, complete replies come out as RespValues, in order.
//
// Contract:
//  * prepare(n) / commit(k): read straight into the reader's buffer (no copy), or feed(data).
//  * next(out) returns kReply with the next complete reply in `out` (overwritten), kNeedMore
//    when the buffered bytes end inside one (nothing is consumed: it is parsed again once more
//    bytes come), or kError for bytes that are not RESP2 (error() says what); after kError
//    the reader stays failed and the connection must be closed.
//  * Bounded: a bulk string over kMaxBulk, an array over kMaxElements, nesting deeper than
//    kMaxDepth, or more than kMaxBuffered bytes waiting for one reply are protocol errors; an
//    array's element count never reserves more memory than the bytes that are there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "filters/limits_store/resp_client.h"

namespace sluice::redis {

class RespReader {
 public:
  static constexpr std::int64_t kMaxBulk = 64LL << 20;
  static constexpr std::int64_t kMaxElements = 1LL << 24;
  static constexpr int kMaxDepth = 16;
  static constexpr std::size_t kMaxBuffered = 256u << 20;

  enum class Status { kReply, kNeedMore, kError };

  // Room for n more bytes at the end of the buffer; commit(k ≤ n) makes k of them count.
  char* prepare(std::size_t n);
  void commit(std::size_t k) { end_ += k; }
  void feed(std::string_view bytes);

  Status next(RespValue& out);
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return end_ - pos_; }

 private:
  enum class Step { kDone, kNeedMore, kError };
  Step parse(std::size_t& at, RespValue& out, int depth);
  // The number after a type byte, up to CRLF; `at` moves past the CRLF.
  Step number(std::size_t& at, std::int64_t& v);
  // The length after '$' or '*': -1 (a nil: `out` becomes nil), or 0..max.
  Step length(std::size_t& at, std::int64_t& v, std::int64_t max, const char* what,
              RespValue& out);
  // The line after a type byte (simple string, error), up to CRLF.
  Step line(std::size_t& at, std::string_view& v);
  Step fail(std::string what);

  std::string buf_;  // [pos_, end_) not yet consumed; beyond end_, room for reads
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::string error_;
};

}  // namespace sluice::redis
