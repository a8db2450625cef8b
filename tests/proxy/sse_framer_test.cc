#include "proxy/sse_framer.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
namespace {

// Owned copy of a block: views die at the next push().
struct Block {
  std::string raw, event, data, id;
  bool dispatch = false;
  bool oversize = false;
  bool done = false;
};

// What a client sees of a dispatched event; compared across chunkings.
struct Event {
  std::string event, data, id;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  *os << "{event=\"" << e.event << "\" data=\"" << e.data << "\" id=\"" << e.id << "\"}";
}

void Drain(SseFramer& f, std::vector<Block>& out) {
  SseBlock b;
  while (f.next(b)) {
    out.push_back({std::string(b.raw), std::string(b.event), std::string(b.data), std::string(b.id),
                   b.dispatch, b.oversize, b.is_done()});
  }
}

struct Outcome {
  std::vector<Block> blocks;
  std::string rest;
  std::uint64_t oversize_events = 0;
  std::uint64_t dispatched = 0;

  std::string Raw() const {
    std::string s;
    for (const Block& b : blocks) s += b.raw;
    return s + rest;
  }
  std::vector<Event> Events() const {
    std::vector<Event> v;
    for (const Block& b : blocks) {
      if (b.dispatch) v.push_back({b.event, b.data, b.id});
    }
    return v;
  }
};

// Pushes `input` cut at `cuts` (ascending offsets), draining after every push.
Outcome Feed(std::string_view input, const std::vector<std::size_t>& cuts,
             std::size_t max_event_bytes = 1 << 20) {
  SseFramer f(max_event_bytes);
  Outcome run;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    f.push(input.substr(at, cut - at));
    Drain(f, run.blocks);
    at = cut;
  }
  f.push(input.substr(at));
  Drain(f, run.blocks);
  run.rest = std::string(f.take_rest());
  run.oversize_events = f.oversize_events();
  run.dispatched = f.dispatched_events();
  return run;
}

Outcome FeedWhole(std::string_view input, std::size_t max_event_bytes = 1 << 20) {
  return Feed(input, {}, max_event_bytes);
}

Outcome FeedBytewise(std::string_view input, std::size_t max_event_bytes = 1 << 20) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return Feed(input, cuts, max_event_bytes);
}

// Independent whole-input reading of the stream per WHATWG, with the header's dispatch rule
// (a data or an event field dispatches). Unterminated trailing lines are dropped.
std::vector<Event> Reference(std::string_view s) {
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  std::vector<Event> events;
  Event cur;
  std::vector<std::string> data;
  bool has_event = false;
  std::size_t i = 0;
  while (true) {
    const std::size_t eol = s.find_first_of("\r\n", i);
    if (eol == std::string_view::npos) break;
    const std::string_view line = s.substr(i, eol - i);
    i = eol + 1;
    if (s[eol] == '\r' && i < s.size() && s[i] == '\n') ++i;
    if (line.empty()) {
      if (!data.empty() || has_event) {
        for (std::size_t k = 0; k < data.size(); ++k) cur.data += (k ? "\n" : "") + data[k];
        events.push_back(cur);
      }
      cur = {};
      data.clear();
      has_event = false;
      continue;
    }
    if (line[0] == ':') continue;
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (name == "data") data.emplace_back(value);
    if (name == "event") cur.event = value, has_event = true;
    if (name == "id" && value.find('\0') == std::string_view::npos) cur.id = value;
  }
  return events;
}

const char kOpenAiStream[] =
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
    "data: [DONE]\n\n";

const char kAnthropicStream[] =
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-sonnet-20241022\","
    "\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n"
    "event: content_block_start\r\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\r\n\r\n"
    "event: ping\r\n"
    "data: {\"type\": \"ping\"}\r\n\r\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\r\n\r\n"
    "event: content_block_stop\r\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
    "event: message_delta\r\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
    "\"usage\":{\"output_tokens\":15}}\r\n\r\n"
    "event: message_stop\r\n"
    "data: {\"type\":\"message_stop\"}\r\n\r\n";

// Mixed endings, comments, multi-line data, ids and a CR-terminated last event.
const char kMixedStream[] =
    ": hello\n\n"
    "event: a\ndata: 1\n\n"
    "data: x\r\ndata: y\r\n\r\n"
    "id: 7\rdata: z\r\r"
    "retry: 10\ndata:[DONE]\n\n"
    "event: b\r\n\r\n"
    "data\r";

TEST(SseFramerTest, LfLineEndings) {
  Outcome r = FeedWhole("data: a\n\nevent: e\ndata: b\n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].raw, "data: a\n\n");
  EXPECT_EQ(r.blocks[0].data, "a");
  EXPECT_EQ(r.blocks[1].raw, "event: e\ndata: b\n\n");
  EXPECT_EQ(r.blocks[1].event, "e");
  EXPECT_EQ(r.blocks[1].data, "b");
  EXPECT_EQ(r.rest, "");
  EXPECT_EQ(r.dispatched, 2u);
}

TEST(SseFramerTest, CrlfLineEndings) {
  Outcome r = FeedWhole("data: a\r\n\r\nevent: e\r\ndata: b\r\n\r\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].raw, "data: a\r\n\r\n");
  EXPECT_EQ(r.blocks[0].data, "a");
  EXPECT_EQ(r.blocks[1].raw, "event: e\r\ndata: b\r\n\r\n");
  EXPECT_EQ(r.blocks[1].event, "e");
  EXPECT_EQ(r.blocks[1].data, "b");
}

TEST(SseFramerTest, CrOnlyLineEndings) {
  Outcome r = FeedWhole("data: a\r\revent: e\rdata: b\r\r");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].raw, "data: a\r\r");
  EXPECT_EQ(r.blocks[0].data, "a");
  EXPECT_EQ(r.blocks[1].raw, "event: e\rdata: b\r\r");
  EXPECT_EQ(r.blocks[1].event, "e");
  EXPECT_EQ(r.blocks[1].data, "b");
  EXPECT_EQ(r.rest, "");
}

TEST(SseFramerTest, TerminatorSplitAtEveryBytePosition) {
  const std::string_view input = kMixedStream;
  const Outcome whole = FeedWhole(input);
  ASSERT_EQ(whole.Events(), Reference(input));
  ASSERT_EQ(whole.Events().size(), 5u);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    SCOPED_TRACE(cut);
    const Outcome r = Feed(input, {cut});
    EXPECT_EQ(r.Events(), whole.Events());
    EXPECT_EQ(r.Raw(), input);
    EXPECT_EQ(r.rest, whole.rest);
  }
}

TEST(SseFramerTest, TwoSplitsAtEveryPairOfPositions) {
  const std::string_view input = kMixedStream;
  const std::vector<Event> expected = Reference(input);
  for (std::size_t a = 0; a <= input.size(); ++a) {
    for (std::size_t b = a; b <= input.size(); ++b) {
      const Outcome r = Feed(input, {a, b});
      ASSERT_EQ(r.Events(), expected) << a << "," << b;
      ASSERT_EQ(r.Raw(), input) << a << "," << b;
    }
  }
}

TEST(SseFramerTest, CrlfSplitBetweenCrAndLfAtBlockEnd) {
  SseFramer f;
  std::vector<Block> out;
  f.push("data: a\r\n\r");
  Drain(f, out);
  ASSERT_EQ(out.size(), 1u);  // handed out without waiting for the LF
  EXPECT_EQ(out[0].raw, "data: a\r\n\r");
  EXPECT_TRUE(out[0].dispatch);
  EXPECT_EQ(out[0].data, "a");

  f.push("\ndata: b\r\n\r\n");
  Drain(f, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].raw, "\n");
  EXPECT_FALSE(out[1].dispatch);
  EXPECT_EQ(out[2].raw, "data: b\r\n\r\n");
  EXPECT_EQ(out[2].data, "b");
  EXPECT_EQ(f.dispatched_events(), 2u);
}

TEST(SseFramerTest, CrFollowedByLfInLaterPushStartsNoExtraBlank) {
  // Only one LF is swallowed: the next LF is a real blank line.
  SseFramer f;
  std::vector<Block> out;
  f.push("data: a\n\r");
  Drain(f, out);
  f.push("\n\ndata: b\n\n");
  Drain(f, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].raw, "\n");
  EXPECT_EQ(out[2].raw, "\n");
  EXPECT_FALSE(out[2].dispatch);
  EXPECT_EQ(out[3].data, "b");
}

TEST(SseFramerTest, CrlfSplitInsideEvent) {
  const Outcome r = Feed("data: a\r\ndata: b\r\n\r\n", {8});
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].data, "a\nb");
  EXPECT_EQ(r.blocks[0].raw, "data: a\r\ndata: b\r\n\r\n");
}

TEST(SseFramerTest, KeepAliveCommentsPassThrough) {
  const Outcome r = FeedWhole(": keep-alive\n\n:\n\ndata: x\n\n");
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_EQ(r.blocks[0].raw, ": keep-alive\n\n");
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[1].raw, ":\n\n");
  EXPECT_FALSE(r.blocks[1].dispatch);
  EXPECT_TRUE(r.blocks[2].dispatch);
  EXPECT_EQ(r.dispatched, 1u);
}

TEST(SseFramerTest, CommentLinesInsideEventAreSkipped) {
  const Outcome r = FeedWhole("data: a\n: data: not me\ndata: b\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].data, "a\nb");
}

TEST(SseFramerTest, CommentOnlyBlockDoesNotDispatch) {
  const Outcome r = FeedWhole(": one\n: two\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[0].data, "");
  EXPECT_EQ(r.dispatched, 0u);
}

TEST(SseFramerTest, StrayBlankLinesDoNotDispatch) {
  const Outcome r = FeedWhole("\n\r\n\r");
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_EQ(r.blocks[0].raw, "\n");
  EXPECT_EQ(r.blocks[1].raw, "\r\n");
  EXPECT_EQ(r.blocks[2].raw, "\r");
  for (const Block& b : r.blocks) EXPECT_FALSE(b.dispatch);
}

TEST(SseFramerTest, MultiLineDataJoinedWithLf) {
  const Outcome r = FeedWhole("data: a\ndata: b\ndata:\ndata: c\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].data, "a\nb\n\nc");
}

TEST(SseFramerTest, MultiLineDataViewsStayValidUntilNextPush) {
  // Long enough that joining each event into a fresh buffer would reallocate.
  const std::string a(40, 'a'), b(80, 'b'), c(160, 'c'), d(320, 'd');
  SseFramer f;
  f.push("data: " + a + "\ndata: " + b + "\n\ndata: " + c + "\ndata: " + d + "\n\ndata: e\n\n");
  SseBlock b1, b2, b3;
  ASSERT_TRUE(f.next(b1));
  ASSERT_TRUE(f.next(b2));
  ASSERT_TRUE(f.next(b3));
  EXPECT_EQ(b1.data, a + "\n" + b);
  EXPECT_EQ(b2.data, c + "\n" + d);
  EXPECT_EQ(b3.data, "e");
}

TEST(SseFramerTest, SingleLineDataIsAViewIntoRaw) {
  SseFramer f;
  f.push("event: e\ndata: hello\n\n");
  SseBlock b;
  ASSERT_TRUE(f.next(b));
  EXPECT_EQ(b.data, "hello");
  EXPECT_GE(b.data.data(), b.raw.data());
  EXPECT_LE(b.data.data() + b.data.size(), b.raw.data() + b.raw.size());
}

TEST(SseFramerTest, DataWithoutSpaceAfterColon) {
  const Outcome r = FeedWhole("data:x\n\ndata:  two\n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].data, "x");
  EXPECT_EQ(r.blocks[1].data, " two");  // only one space is dropped
}

TEST(SseFramerTest, FieldWithoutColonHasEmptyValue) {
  const Outcome r = FeedWhole("data\n\ndata\ndata\n\nevent\n\n");
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_TRUE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[0].data, "");
  EXPECT_EQ(r.blocks[1].data, "\n");
  EXPECT_TRUE(r.blocks[2].dispatch);
  EXPECT_EQ(r.blocks[2].event, "");
}

TEST(SseFramerTest, EventType) {
  const Outcome r = FeedWhole("event: first\nevent: content_block_delta\ndata: {}\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].event, "content_block_delta");  // the last one wins
  EXPECT_EQ(r.blocks[0].data, "{}");
}

TEST(SseFramerTest, EventWithoutDataDispatches) {
  const Outcome r = FeedWhole("event: ping\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_TRUE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[0].event, "ping");
  EXPECT_EQ(r.blocks[0].data, "");
}

TEST(SseFramerTest, Id) {
  using namespace std::string_literals;
  const Outcome r = FeedWhole("id: 42\ndata: x\n\nid\ndata: y\n\nid: a\0b\ndata: z\n\n"s);
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_EQ(r.blocks[0].id, "42");
  EXPECT_EQ(r.blocks[1].id, "");
  EXPECT_EQ(r.blocks[2].id, "");  // an id containing NUL is ignored
  EXPECT_EQ(r.blocks[2].data, "z");
}

TEST(SseFramerTest, IdAloneDoesNotDispatch) {
  const Outcome r = FeedWhole("id: 1\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_FALSE(r.blocks[0].dispatch);
}

TEST(SseFramerTest, RetryIgnored) {
  const Outcome r = FeedWhole("retry: 1000\n\nretry: 5\ndata: x\n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_TRUE(r.blocks[1].dispatch);
  EXPECT_EQ(r.blocks[1].data, "x");
}

TEST(SseFramerTest, UnknownFieldsIgnored) {
  const Outcome r = FeedWhole("foo: bar\n\nData: x\n\ndata : y\n\n");
  ASSERT_EQ(r.blocks.size(), 3u);
  for (const Block& b : r.blocks) EXPECT_FALSE(b.dispatch);
}

TEST(SseFramerTest, DoneDetection) {
  const Outcome r =
      FeedWhole("data: [DONE]\n\ndata:[DONE]\n\ndata: [DONE] \n\n: [DONE]\n\ndata: [done]\n\n");
  ASSERT_EQ(r.blocks.size(), 5u);
  EXPECT_TRUE(r.blocks[0].done);
  EXPECT_TRUE(r.blocks[1].done);
  EXPECT_FALSE(r.blocks[2].done);
  EXPECT_FALSE(r.blocks[3].done);
  EXPECT_FALSE(r.blocks[4].done);
}

TEST(SseFramerTest, BomAtStreamStartIgnoredButKeptInRaw) {
  const std::string input =
      "\xEF\xBB\xBF"
      "data: x\n\n";
  for (const Outcome& r : {FeedWhole(input), FeedBytewise(input)}) {
    ASSERT_EQ(r.blocks.size(), 1u);
    EXPECT_EQ(r.blocks[0].raw, input);
    EXPECT_TRUE(r.blocks[0].dispatch);
    EXPECT_EQ(r.blocks[0].data, "x");
  }
}

TEST(SseFramerTest, BomAloneOnFirstLineIsABlankLine) {
  const Outcome r = FeedBytewise("\xEF\xBB\xBF\ndata: x\n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].raw, "\xEF\xBB\xBF\n");
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[1].data, "x");
}

TEST(SseFramerTest, BomNotAtStreamStartIsData) {
  const Outcome r = FeedWhole(
      "data: a\n\n"
      "\xEF\xBB\xBF"
      "data: b\n\n"
      "data: \xEF\xBB\xBF"
      "c\n\n");
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_FALSE(r.blocks[1].dispatch);  // field name "\xEF\xBB\xBF" "data" is unknown
  EXPECT_EQ(r.blocks[2].data,
            "\xEF\xBB\xBF"
            "c");
}

TEST(SseFramerTest, SecondBomAtStreamStartIsNotStripped) {
  const Outcome r = FeedWhole(
      "\xEF\xBB\xBF\xEF\xBB\xBF"
      "data: x\n\n");
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_FALSE(r.blocks[0].dispatch);
}

TEST(SseFramerTest, PartialBomIsData) {
  const Outcome r = FeedBytewise("\xEF\xBB\n\ndata: x\n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].raw, "\xEF\xBB\n\n");
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[1].data, "x");
}

TEST(SseFramerTest, EmptyDataLineDispatchesEmptyString) {
  const Outcome r = FeedWhole("data:\n\ndata: \n\n");
  ASSERT_EQ(r.blocks.size(), 2u);
  for (const Block& b : r.blocks) {
    EXPECT_TRUE(b.dispatch);
    EXPECT_EQ(b.data, "");
  }
}

TEST(SseFramerTest, OversizeEventPassesThroughRawAndIsCounted) {
  const std::string big = "event: big\ndata: " + std::string(200, 'x') + "\n\n";
  const std::string input = "data: before\n\n" + big + "data: after\n\n";
  SseFramer f(64);
  std::vector<Block> out;
  for (std::size_t i = 0; i < input.size(); i += 10) {
    f.push(std::string_view(input).substr(i, 10));
    Drain(f, out);
    EXPECT_LE(f.buffered_bytes(), 64u);
  }
  std::string raw;
  std::string oversize_raw;
  std::vector<Event> events;
  for (const Block& b : out) {
    raw += b.raw;
    if (b.oversize) {
      oversize_raw += b.raw;
      EXPECT_FALSE(b.dispatch);
      EXPECT_EQ(b.event, "");
      EXPECT_EQ(b.data, "");
    } else if (b.dispatch) {
      events.push_back({b.event, b.data, b.id});
    }
  }
  EXPECT_EQ(raw, input);
  EXPECT_EQ(oversize_raw, big);
  EXPECT_EQ(f.oversize_events(), 1u);
  EXPECT_EQ(events, (std::vector<Event>{{"", "before", ""}, {"", "after", ""}}));
  EXPECT_EQ(f.take_rest(), "");
}

TEST(SseFramerTest, OversizeEventArrivingWholeIsStillOversize) {
  const std::string big = "data: " + std::string(100, 'y') + "\r\n\r\n";
  const Outcome r = FeedWhole(big + "data: ok\r\n\r\n", 64);
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_TRUE(r.blocks[0].oversize);
  EXPECT_EQ(r.blocks[0].raw, big);
  EXPECT_FALSE(r.blocks[0].dispatch);
  EXPECT_EQ(r.blocks[1].data, "ok");
  EXPECT_EQ(r.oversize_events, 1u);
}

TEST(SseFramerTest, OversizeVerdictDoesNotDependOnChunking) {
  // Exactly at the cap is not oversize; one byte more is, however it arrives.
  const std::string at_cap = "data: " + std::string(58, 'z') + "\n";  // 65 bytes
  for (std::size_t cap : {64u, 65u}) {
    const std::string input = at_cap + "\n" + "data: ok\n\n";
    const Outcome whole = FeedWhole(input, cap);
    const Outcome bytes = FeedBytewise(input, cap);
    EXPECT_EQ(whole.oversize_events, cap == 64 ? 1u : 0u);
    EXPECT_EQ(bytes.oversize_events, whole.oversize_events);
    EXPECT_EQ(bytes.Events(), whole.Events());
    EXPECT_EQ(bytes.Raw(), input);
  }
}

TEST(SseFramerTest, TakeRestAtEofWithPartialEvent) {
  SseFramer f;
  std::vector<Block> out;
  f.push("data: a\n\ndata: part");
  Drain(f, out);
  f.push("ial\n");
  Drain(f, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(f.buffered_bytes(), 14u);
  EXPECT_EQ(f.take_rest(), "data: partial\n");
  EXPECT_EQ(f.buffered_bytes(), 0u);
  EXPECT_EQ(f.dispatched_events(), 1u);

  // The framer is reusable for a new stream, BOM handling included.
  f.push(
      "\xEF\xBB\xBF"
      "data: b\n\n");
  Drain(f, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].data, "b");
  EXPECT_EQ(f.take_rest(), "");
}

TEST(SseFramerTest, OpenAiStreamByteAtATimeMatchesOnePush) {
  const Outcome whole = FeedWhole(kOpenAiStream);
  const Outcome bytes = FeedBytewise(kOpenAiStream);
  EXPECT_EQ(whole.Events().size(), 5u);
  EXPECT_EQ(bytes.Events(), whole.Events());
  EXPECT_EQ(bytes.Events(), Reference(kOpenAiStream));
  EXPECT_EQ(bytes.Raw(), kOpenAiStream);
  ASSERT_FALSE(bytes.blocks.empty());
  EXPECT_TRUE(bytes.blocks.back().done);
  EXPECT_EQ(bytes.dispatched, 5u);
}

TEST(SseFramerTest, AnthropicStreamByteAtATimeMatchesOnePush) {
  const Outcome whole = FeedWhole(kAnthropicStream);
  const Outcome bytes = FeedBytewise(kAnthropicStream);
  const std::vector<Event> events = bytes.Events();
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events, whole.Events());
  EXPECT_EQ(events, Reference(kAnthropicStream));
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[2].event, "ping");
  EXPECT_EQ(events[6].event, "message_stop");
  EXPECT_EQ(events[6].data, "{\"type\":\"message_stop\"}");
  EXPECT_EQ(bytes.Raw(), kAnthropicStream);
  EXPECT_EQ(whole.blocks.size(), 7u);
}

TEST(SseFramerTest, LongStreamAcrossManyCompactions) {
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += "data: " + std::to_string(i) + (i % 3 ? "\n\n" : "\ndata: more\n\n");
  }
  std::vector<std::size_t> cuts;
  for (std::size_t at = 7; at < input.size(); at += 4093) cuts.push_back(at);
  const Outcome r = Feed(input, cuts);
  EXPECT_EQ(r.Raw(), input);
  EXPECT_EQ(r.Events(), Reference(input));
  EXPECT_EQ(r.dispatched, 20000u);
}

// Random streams built from SSE-ish pieces (and stray separators), cut at random points.
TEST(SseFramerTest, RandomChunkingPreservesBytesAndEvents) {
  static const char* const kPieces[] = {
      "data: x",      "data:", "data",     "data:  y", "event: e", "event:",   "event",
      "id: 1",        "id",    "retry: 5", ": c",      ":",        "foo: bar", "data: [DONE]",
      "\xEF\xBB\xBF", "\xEF",  "d",        " ",        "\n",       "\r",       "\r\n",
      "\n",           "\r",    "\r\n",     "\n\n",     "\r\r",     "\r\n\r\n"};
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string input;
    if (rng() % 4 == 0) input = "\xEF\xBB\xBF";
    const std::size_t pieces = rng() % 40;
    for (std::size_t i = 0; i < pieces; ++i) input += kPieces[rng() % std::size(kPieces)];
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; at < input.size();) {
      at += 1 + rng() % 8;
      if (at < input.size()) cuts.push_back(at);
    }
    const Outcome r = Feed(input, cuts);
    ASSERT_EQ(r.Raw(), input) << "iter " << iter;
    ASSERT_EQ(r.Events(), Reference(input)) << "iter " << iter;
    ASSERT_EQ(r.dispatched, r.Events().size());

    // A small cap must not change the bytes, and events under it must be unaffected.
    const Outcome capped = Feed(input, cuts, 8);
    ASSERT_EQ(capped.Raw(), input) << "iter " << iter;
    const Outcome capped_whole = FeedWhole(input, 8);
    ASSERT_EQ(capped.Events(), capped_whole.Events()) << "iter " << iter;
    ASSERT_EQ(capped.oversize_events, capped_whole.oversize_events) << "iter " << iter;
  }
}

}  // namespace
}  // namespace sluice
