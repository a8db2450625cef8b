// Why not hiredis's redisReader (which this replaced): with its reply-object hooks building
// RespValues it cost Sluice ~5,700 instructions per limited call — ~400 per integer of a
// batched script's reply (line search, string2ll, a task stack, an sds buffer that is
// appended to and trimmed) — a fifth of what the Redis store added to a call over the
// in-process store (bench/README.md, "Budgets and rate limits"). RESP2 is five line-framed
// types; parsing it directly from the read buffer is a few dozen instructions per integer.
//
// A reply is parsed from its first byte each time; one that is not complete yet is parsed
// again when more bytes come. Script replies are a few hundred bytes, so that is rare; a large
// reply read in 16 KiB pieces is parsed again once per piece, which kMaxBuffered bounds.
#include "filters/limits_store/resp_reader.h"

#include <algorithm>
#include <cstring>

namespace sluice::redis {

char* RespReader::prepare(std::size_t n) {
  if (pos_ == end_) pos_ = end_ = 0;
  if (buf_.size() - end_ < n && pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (buf_.size() - end_ < n) buf_.resize(std::max(end_ + n, 2 * buf_.size()));
  return buf_.data() + end_;
}

void RespReader::feed(std::string_view bytes) {
  char* at = prepare(bytes.size());
  if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
  commit(bytes.size());
}

RespReader::Step RespReader::fail(std::string what) {
  error_ = "protocol error: " + std::move(what);
  return Step::kError;
}

namespace {

// Eight ASCII digits, loaded little-endian: all of them digits? (Each byte's high nibble is 3,
// and adding 6 does not carry into it.)
bool eight_digits(std::uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0ULL) |
          (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
}

// Their value: pairs, then fours, then the eight, combined by multiplying in place.
std::uint64_t eight_digits_value(std::uint64_t v) {
  v -= 0x3030303030303030ULL;
  v = v * 10 + (v >> 8);  // each even byte: two digits
  const std::uint64_t lo = v & 0x000000FF000000FFULL, hi = (v >> 16) & 0x000000FF000000FFULL;
  return ((lo * (100 + (1000000ULL << 32))) + (hi * (1 + (10000ULL << 32)))) >> 32;
}

}  // namespace

// Script replies are mostly 10–13 digit integers (milliseconds, micro-dollars), ~14 per call:
// eight digits at a time where the bytes are there.
RespReader::Step RespReader::number(std::size_t& at, std::int64_t& v) {
  const char* p = buf_.data() + at;
  const char* const end = buf_.data() + end_;
  const bool negative = p < end && *p == '-';
  p += negative ? 1 : 0;
  const char* const digits = p;
  std::uint64_t u = 0;
  // At most 19 digits: 16 by eights, the rest one by one.
  for (int round = 0; round < 2 && end - p >= 8; ++round) {
    std::uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    if (!eight_digits(chunk)) break;
    u = u * 100000000ULL + eight_digits_value(chunk);
    p += 8;
  }
  const char* const limit = digits + 19 < end ? digits + 19 : end;
  while (p < limit) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p)) - '0';
    if (d > 9) break;
    u = u * 10 + d;
    ++p;
  }
  if (p == end) return Step::kNeedMore;
  if (p == digits) return fail("expected a digit");
  if (*p >= '0' && *p <= '9') return fail("number too long");
  if (p[0] != '\r') return fail("expected CRLF after a number");
  if (end - p < 2) return Step::kNeedMore;
  if (p[1] != '\n') return fail("expected CRLF after a number");
  // 19 digits fit in uint64; the int64 range is checked here.
  if (u > static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0)) return fail("number out of range");
  v = negative ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
  at = static_cast<std::size_t>(p + 2 - buf_.data());
  return Step::kDone;
}

RespReader::Step RespReader::line(std::size_t& at, std::string_view& v) {
  const char* start = buf_.data() + at;
  const auto* cr = static_cast<const char*>(std::memchr(start, '\r', end_ - at));
  if (cr == nullptr || cr + 1 >= buf_.data() + end_) {
    // A status or error line is short; one that never ends is not RESP.
    return end_ - at > static_cast<std::size_t>(kMaxBulk) ? fail("line too long") : Step::kNeedMore;
  }
  if (cr[1] != '\n') return fail("CR without LF in a line");
  v = {start, static_cast<std::size_t>(cr - start)};
  at = static_cast<std::size_t>(cr + 2 - buf_.data());
  return Step::kDone;
}

RespReader::Step RespReader::length(std::size_t& at, std::int64_t& v, std::int64_t max,
                                    const char* what, RespValue& out) {
  Step s = number(at, v);
  if (s != Step::kDone) return s;
  if (v == -1) {
    out.type = RespValue::Type::kNil;
    return Step::kDone;
  }
  if (v < 0 || v > max) return fail(std::string("bad ") + what + " length " + std::to_string(v));
  return Step::kDone;
}

RespReader::Step RespReader::parse(std::size_t& at, RespValue& out, int depth) {
  using T = RespValue::Type;
  if (at >= end_) return Step::kNeedMore;
  const char type = buf_[at++];
  switch (type) {
    case ':': {
      out.type = T::kInteger;
      return number(at, out.integer);
    }
    case '+':
    case '-': {
      std::string_view v;
      Step s = line(at, v);
      if (s != Step::kDone) return s;
      out.type = type == '+' ? T::kStatus : T::kError;
      out.str.assign(v);
      return Step::kDone;
    }
    case '$': {
      std::int64_t len = 0;
      Step s = length(at, len, kMaxBulk, "bulk", out);
      if (s != Step::kDone || len < 0) return s;
      const auto n = static_cast<std::size_t>(len);
      if (end_ - at < n + 2) return Step::kNeedMore;
      if (buf_[at + n] != '\r' || buf_[at + n + 1] != '\n')
        return fail("bulk string not followed by CRLF");
      out.type = T::kString;
      out.str.assign(buf_.data() + at, n);
      at += n + 2;
      return Step::kDone;
    }
    case '*': {
      std::int64_t count = 0;
      Step s = length(at, count, kMaxElements, "array", out);
      if (s != Step::kDone || count < 0) return s;
      if (depth >= kMaxDepth) return fail("arrays nested too deep");
      out.type = T::kArray;
      // Each element takes at least 3 bytes (":0\r\n" is 4): reserve no more than can be there.
      const auto n = static_cast<std::size_t>(count);
      out.elements.reserve(std::min(n, (end_ - at) / 3));
      for (std::size_t i = 0; i < n; ++i) {
        out.elements.emplace_back();
        s = parse(at, out.elements.back(), depth + 1);
        if (s != Step::kDone) return s;
      }
      return Step::kDone;
    }
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto b = static_cast<unsigned char>(type);
      return fail(std::string("unexpected byte 0x") + kHex[b >> 4] + kHex[b & 15]);
    }
  }
}

RespReader::Status RespReader::next(RespValue& out) {
  if (!error_.empty()) return Status::kError;
  if (pos_ == end_) return Status::kNeedMore;
  std::size_t at = pos_;
  out.type = RespValue::Type::kNil;
  out.str.clear();
  out.elements.clear();
  switch (parse(at, out, 0)) {
    case Step::kDone:
      pos_ = at;
      return Status::kReply;
    case Step::kNeedMore:
      if (end_ - pos_ > kMaxBuffered) {
        fail("a reply larger than " + std::to_string(kMaxBuffered) + " bytes");
        return Status::kError;
      }
      return Status::kNeedMore;
    case Step::kError:
      break;
  }
  return Status::kError;
}

}  // namespace sluice::redis
