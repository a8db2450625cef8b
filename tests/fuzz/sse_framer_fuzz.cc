// libFuzzer target for SseFramer. Input layout: byte 0 picks the size cap, bytes 1-2 drive the
// chunking, the rest is the stream. Each stream is framed three ways (chunked, whole, and
// chunked again on the same framer after take_rest) and every invariant the header promises
// is checked; a violation abort()s so that libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/sse_framer.h"

namespace {

using sluice::SseBlock;
using sluice::SseFramer;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "sse_framer_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Event {
  std::string event, data, id;
  bool operator==(const Event&) const = default;
};

struct Outcome {
  std::string bytes;  // every raw, then the rest
  std::vector<Event> events;
  std::uint64_t oversize_events = 0;
  std::string rest;
};

// Chunk lengths come from a xorshift seeded by the input, so one input replays one chunking.
struct Chunker {
  std::uint32_t state;
  std::size_t max_len;
  std::size_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return 1 + state % max_len;
  }
};

void drain(SseFramer& f, std::size_t cap, Outcome& out) {
  SseBlock b;
  while (f.next(b)) {
    check(!b.raw.empty(), "empty block");
    out.bytes.append(b.raw);
    if (b.oversize) {
      check(!b.dispatch && b.event.empty() && b.data.empty() && b.id.empty(),
            "oversize block with fields");
      continue;
    }
    // The bytes before the terminator are within the cap; the terminator is at most CRLF.
    check(b.raw.size() <= cap + 2, "non-oversize block over the cap");
    check(b.dispatch || (b.event.empty() && b.data.empty()), "fields on a silent block");
    check(b.is_done() == (b.dispatch && b.data == "[DONE]"), "is_done");
    if (b.dispatch)
      out.events.push_back({std::string(b.event), std::string(b.data), std::string(b.id)});
  }
  check(f.buffered_bytes() <= cap, "drained framer holds more than the cap");
}

Outcome frame(SseFramer& f, std::string_view input, std::size_t cap, Chunker* chunker) {
  Outcome out;
  const std::uint64_t oversize_before = f.oversize_events();
  const std::uint64_t dispatched_before = f.dispatched_events();
  for (std::size_t at = 0; at < input.size();) {
    const std::size_t n = chunker ? chunker->next() : input.size();
    const std::string_view piece = input.substr(at, n);
    const std::size_t held = f.buffered_bytes();
    f.push(piece);
    check(f.buffered_bytes() == held + piece.size(), "push lost or invented bytes");
    check(f.buffered_bytes() <= cap + piece.size(), "buffer over cap plus one push");
    drain(f, cap, out);
    at += piece.size();
  }
  out.rest = std::string(f.take_rest());
  check(f.buffered_bytes() == 0, "take_rest left bytes");
  out.bytes += out.rest;
  out.oversize_events = f.oversize_events() - oversize_before;
  check(f.dispatched_events() - dispatched_before == out.events.size(), "dispatched_events");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static constexpr std::size_t kCaps[] = {0, 1, 2, 3, 5, 8, 16, 64, 1 << 20};
  const std::size_t cap = kCaps[data[0] % (sizeof(kCaps) / sizeof(kCaps[0]))];
  const std::uint32_t seed = 0x9E3779B9u ^ (std::uint32_t{data[1]} << 8) ^ data[2];
  const std::size_t max_len = data[1] & 0x80 ? 1 + (data[2] & 0x3f) : 1 + (data[2] & 0x07);
  const std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);

  SseFramer whole_framer(cap);
  const Outcome whole = frame(whole_framer, input, cap, nullptr);
  check(whole.bytes == input, "whole: bytes differ from input");

  SseFramer f(cap);
  Chunker chunker{seed, max_len};
  const Outcome chunked = frame(f, input, cap, &chunker);
  check(chunked.bytes == input, "chunked: bytes differ from input");
  check(chunked.events == whole.events, "events depend on chunking");
  check(chunked.oversize_events == whole.oversize_events, "oversize verdict depends on chunking");
  check(chunked.rest == whole.rest, "rest depends on chunking");

  // take_rest() resets the stream: the same framer must frame the input the same way again.
  Chunker again{seed, max_len};
  const Outcome reused = frame(f, input, cap, &again);
  check(reused.bytes == input && reused.events == whole.events &&
            reused.oversize_events == whole.oversize_events,
        "framer not reset by take_rest");
  return 0;
}
