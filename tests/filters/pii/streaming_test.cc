// The streaming guarantee, at the two layers where text can be split:
//  * TextRedactor: decoded text cut anywhere (every 1-byte chunk, every 2-chunk split, random
//    chunkings), including inside multi-byte UTF-8 characters, must give exactly the whole
//    text's redaction, with no byte of a value on the wire and a bounded hold-back.
//  * The proxy's stream path (SseFramer -> StreamAdapter -> PiiFilter -> render): upstream
//    bytes cut anywhere, including inside a \uXXXX escape. The adapter only sees whole events
//    (the framer joins reads), so an escape is never split at the filter; the test proves it.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "filters/pii/filter.h"
#include "proxy/providers/adapter.h"
#include "proxy/sse_framer.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

using testing::default_config;
using testing::redact_chunks;
using testing::redact_whole;

const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
    "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const std::string kPem =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAA\n"
    "MwAAAAtzc2gtZWQyNTUxOQAAACDx\n-----END OPENSSH PRIVATE KEY-----";

// Values that must never reach the client (each has at least one 6-byte window nothing else in
// the texts has).
const std::vector<std::string> kValues = {
    "jane.doe@example.com", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "536-90-4399",
    "+44 20 7946 0958", "192.168.10.200", "2001:db8:85a3::8a2e:370:7334",
    "ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae", "AKIAIOSFODNN7EXAMPLE", "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "ünïcødé.ǖser@dömäin.test", kJwt, kPem};

std::vector<std::string> texts() {
  return {
      "Contact jane.doe@example.com today.",
      "jane.doe@example.com",
      "Ünïcødé 🙂 prefix — jane.doe@example.com — suffix 🙂 and a card 4111 1111 1111 1111.",
      "Pay GB82 WEST 1234 5698 7654 32 or call +44 20 7946 0958; SSN 536-90-4399.",
      "Servers 192.168.10.200 and 2001:db8:85a3::8a2e:370:7334 are down.",
      "token ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae and AKIAIOSFODNN7EXAMPLE and "
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc end",
      "Bearer " + kJwt + " then jane.doe@example.com",
      "Here:\n" + kPem + "\nand after it jane.doe@example.com.",
      "Unterminated " + kPem.substr(0, 60),
      std::string(700, 'x') + " jane.doe@example.com " + std::string(900, 'y') +
          " 4111111111111111 " + std::string(600, 'z'),
      "no pii at all, just words: ümlaut, 日本語のテキスト, emoji 🎉🎉.",
      "adjacent jane.doe@example.com,4111111111111111;536-90-4399",
      "mail ünïcødé.ǖser@dömäin.test is not ASCII and stays; a@b.io is redacted",
  };
}

void expect_no_value_bytes(const std::string& out) {
  for (const auto& v : kValues) {
    if (v.find("ünïcødé") != std::string::npos) continue;  // not an ASCII address: not a finding
    for (std::size_t i = 0; i + 8 <= v.size(); ++i) {
      std::string window = v.substr(i, 8);
      if (window.find('\n') != std::string::npos || window.find(' ') != std::string::npos) continue;
      ASSERT_EQ(out.find(window), std::string::npos) << "'" << window << "' of " << v << " in: " << out;
    }
  }
}

TEST(PiiStreaming, AnyChunkingGivesTheWholeTextsRedaction) {
  auto c = default_config();
  std::mt19937 rng(42);
  for (const auto& text : texts()) {
    auto whole = redact_whole(*c, text);
    ASSERT_EQ(whole.result, TextRedactor::Result::kOk);
    expect_no_value_bytes(whole.out);
    auto one = redact_chunks(*c, text, {1});
    EXPECT_EQ(one.out, whole.out) << text;
    EXPECT_EQ(one.findings.size(), whole.findings.size());
    EXPECT_LE(one.max_held, c->hold_back + c->engine->max_len());
    for (std::size_t split = 1; split < text.size(); ++split) {
      auto two = redact_chunks(*c, text, {split, text.size()});
      ASSERT_EQ(two.out, whole.out) << "split at " << split << " of: " << text;
    }
    for (int round = 0; round < 30; ++round) {
      std::vector<std::size_t> sizes;
      for (int k = 0; k < 16; ++k) sizes.push_back(1 + rng() % 37);
      auto r = redact_chunks(*c, text, sizes);
      ASSERT_EQ(r.out, whole.out) << text;
      ASSERT_EQ(r.findings.size(), whole.findings.size());
      for (std::size_t i = 0; i < r.findings.size(); ++i) {
        EXPECT_EQ(r.findings[i].begin, whole.findings[i].begin);
        EXPECT_EQ(r.findings[i].entity, whole.findings[i].entity);
      }
    }
  }
}

TEST(PiiStreaming, ExpectedRedactions) {
  auto c = default_config();
  EXPECT_EQ(redact_chunks(*c, "Contact jane.doe@example.com today.", {1}).out,
            "Contact [EMAIL_1] today.");
  EXPECT_EQ(redact_chunks(*c, "Bearer " + kJwt + " then jane.doe@example.com", {3}).out,
            "Bearer [JWT_1] then [EMAIL_1]");
  EXPECT_EQ(redact_chunks(*c, "Unterminated " + kPem.substr(0, 60), {5}).out,
            "Unterminated [PRIVATE_KEY_1]");
  // Short texts, and the short rest after a suppressed value, are decided at finish() by one
  // block-mode check when nothing of them was scanned yet.
  for (std::vector<std::size_t> sizes : {std::vector<std::size_t>{}, {1}, {7}}) {
    EXPECT_EQ(redact_chunks(*c, "Bearer " + kJwt + " and then words", sizes).out,
              "Bearer [JWT_1] and then words");
    EXPECT_EQ(redact_chunks(*c, "Bearer " + kJwt + " and 10.1.2.3", sizes).out,
              "Bearer [JWT_1] and [IP_ADDRESS_1]");
    EXPECT_EQ(redact_chunks(*c, "plain words", sizes).out, "plain words");
  }
}

TEST(PiiStreaming, HoldBackIsReleasedAsSoonAsNoMatchCanCoverIt) {
  auto c = testing::make_config("hold_back_bytes: 512");
  Policy p;
  p.actions = c->actions.response;
  p.catalog = &c->catalog;
  p.allow = &c->allow;
  Placeholders ph;
  TextRedactor r(c->engine, p, ph, nullptr, c->hold_back);
  std::string out;
  std::string chunk(100, 'a');
  chunk += ' ';
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(r.push(chunk, out), TextRedactor::Result::kOk);
    EXPECT_LE(r.held_bytes(), 512u);
  }
  EXPECT_EQ(out.size() + r.held_bytes(), 50 * chunk.size());
  ASSERT_EQ(r.finish(out), TextRedactor::Result::kOk);
  EXPECT_EQ(out.size(), 50 * chunk.size());
}

TEST(PiiStreaming, ProseIsReleasedWellBeforeTheFullHoldBack) {
  // Patterns that can span a space are at most max_len_spaced() long; the others cannot run
  // across a space: prose is released ~max_len_spaced() + 16 bytes behind, not hold_back.
  auto c = default_config();
  Policy p;
  p.actions = c->actions.response;
  p.catalog = &c->catalog;
  p.allow = &c->allow;
  Placeholders ph;
  TextRedactor r(c->engine, p, ph, nullptr, c->hold_back);
  std::string out, text;
  while (text.size() < 2000) text += "the quick brown fox jumps over the lazy dog. ";
  std::size_t max_held = 0;
  for (std::size_t pos = 0; pos < text.size(); pos += 4) {
    ASSERT_EQ(r.push(std::string_view(text).substr(pos, 4), out), TextRedactor::Result::kOk);
    if (pos > 400) max_held = std::max(max_held, r.held_bytes());
  }
  EXPECT_LE(max_held, c->engine->max_len_spaced() + 2 * kContextBytes + 16);
  EXPECT_LT(max_held, c->hold_back / 2);
  // A token with no spaces in it holds back only until the next space after it.
  std::string long_word = "see " + std::string(300, 'a') + " then more text " + std::string(300, 'b');
  auto chunked = redact_chunks(*c, long_word, {4});
  EXPECT_EQ(chunked.out, long_word);
}

// Long texts: the redactor drops released context only now and then (kRetainBytes kept);
// values whose start is found by growing back from an anchor (emails, OpenAI keys, JWTs,
// extensions) must come out the same for every chunking, far from the text's start too.
TEST(PiiStreaming, LongTextsAreChunkingInvariantPastTheRetainedContext) {
  auto c = default_config();
  const std::vector<std::string> values = {
      "jane.doe@example.com", "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", kJwt,
      "(415) 555-2671 x0135", "4111 1111 1111 1111", "ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae"};
  std::string text;
  std::size_t expected = 0;
  for (std::size_t i = 0; text.size() < 30000; ++i) {
    text += std::string(37 + (i * 131) % 900, 'w');  // filler words of varying length
    for (std::size_t k = 0; k < 3 + i % 5; ++k) text += " lorem ipsum";
    text += " " + values[i % values.size()] + " ";
    ++expected;
  }
  auto whole = redact_whole(*c, text);
  ASSERT_EQ(whole.result, TextRedactor::Result::kOk);
  EXPECT_EQ(whole.findings.size(), expected);
  for (const auto& v : values) EXPECT_EQ(whole.out.find(v), std::string::npos) << v;
  for (std::vector<std::size_t> sizes : std::vector<std::vector<std::size_t>>{
           {1}, {7}, {16}, {64, 3, 500}, {4096}}) {
    auto r = redact_chunks(*c, text, sizes);
    ASSERT_EQ(r.result, TextRedactor::Result::kOk);
    EXPECT_EQ(r.out, whole.out) << "chunk " << sizes[0];
    EXPECT_EQ(r.findings.size(), whole.findings.size());
    EXPECT_LE(r.max_held, c->hold_back + sizes[0]);
  }
}

TEST(PiiStreaming, BlockStopsBeforeAnyByteOfTheValue) {
  auto c = testing::make_config("entities: {credit_card: block, private_key: block}");
  for (std::size_t chunk : {1u, 3u, 64u, 4096u}) {
    auto r = redact_chunks(*c, "pay with 4111 1111 1111 1111 now " + std::string(600, 'q'), {chunk});
    EXPECT_EQ(r.result, TextRedactor::Result::kBlocked);
    EXPECT_EQ(r.out.find("4111"), std::string::npos) << r.out;
    r = redact_chunks(*c, "k " + kPem, {chunk});
    EXPECT_EQ(r.result, TextRedactor::Result::kBlocked);
    EXPECT_EQ(r.out.find("BEGIN"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// The proxy's stream path.

// JSON string body with '@' and every non-ASCII character written as \uXXXX escapes.
std::string escaped(const std::string& s) {
  std::string o;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int n;
    if (c < 0x80) cp = c, n = 1;
    else if (c < 0xE0) cp = c & 0x1F, n = 2;
    else if (c < 0xF0) cp = c & 0x0F, n = 3;
    else cp = c & 0x07, n = 4;
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    char buf[16];
    auto u = [&](std::uint32_t v) {
      std::snprintf(buf, sizeof buf, "\\u%04x", v);
      o += buf;
    };
    if (cp == '@') u(cp);
    else if (cp == '"' || cp == '\\') o += '\\', o += static_cast<char>(cp);
    else if (cp == '\n') o += "\\n";
    else if (cp < 0x80) o += static_cast<char>(cp);
    else if (cp < 0x10000) u(cp);
    else u(0xD800 + ((cp - 0x10000) >> 10)), u(0xDC00 + ((cp - 0x10000) & 0x3FF));
  }
  return o;
}

// Pieces of ~4 bytes on UTF-8 boundaries, like a provider's tokens.
std::vector<std::string> pieces(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = std::min(s.size(), i + 4);
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string chat_stream(const std::string& text, bool tool) {
  std::string o;
  for (const auto& p : pieces(text)) {
    o += "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
         "\"choices\":[{\"index\":0,\"delta\":{";
    if (tool)
      o += "\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"" + escaped(p) + "\"}}]";
    else
      o += "\"content\":\"" + escaped(p) + "\"";
    o += "},\"finish_reason\":null}]}\n\n";
  }
  o += "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
       "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"" +
       std::string(tool ? "tool_calls" : "stop") + "\"}]}\n\n";
  o += "data: [DONE]\n\n";
  return o;
}

std::string anthropic_stream(const std::string& text) {
  std::string o =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
      "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],"
      "\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
  for (const auto& p : pieces(text))
    o += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
         "\"delta\":{\"type\":\"text_delta\",\"text\":\"" + escaped(p) + "\"}}\n\n";
  o += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
       "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
       "\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  return o;
}

struct ProxyRun {
  std::string client;  // bytes the client got
  bool ended_by_filter = false;
};

// What Call::relay_sse does, minus the sockets: upstream reads of the given sizes.
ProxyRun run_proxy(const std::shared_ptr<const Config>& cfg, ApiKind api, Provider provider,
                   const std::string& upstream, std::size_t read_size) {
  PiiFilter filter(cfg);
  StreamContext ctx;
  ctx.api = api;
  ctx.provider = provider;
  StreamAdapter::Options opts;
  opts.decode_text = filter.wants_response_events();
  StreamAdapter adapter(api, provider, opts);
  SseFramer framer;
  ProxyRun run;
  for (std::size_t pos = 0; pos < upstream.size() && !run.ended_by_filter; pos += read_size) {
    framer.push(std::string_view(upstream).substr(pos, read_size));
    SseBlock block;
    while (!run.ended_by_filter && framer.next(block)) {
      ResponseEvent ev;
      adapter.inspect(block, ev);
      if (filter.on_response_event(ctx, ev, false) == FilterStatus::kEndStream) {
        run.ended_by_filter = true;
        for (const auto& d : ev.emit_before) adapter.render_text(d, run.client);
        adapter.render_end(ctx.stream_end, run.client);
        break;
      }
      adapter.render(ev, run.client);
    }
  }
  if (!run.ended_by_filter) {
    ResponseEvent end;
    filter.on_response_event(ctx, end, true);
    for (const auto& d : end.emit_before) adapter.render_text(d, run.client);
  }
  EXPECT_EQ(adapter.malformed_events(), 0u);
  return run;
}

// The text a client reads from a stream (decoded deltas of every channel, in order).
std::string client_text(ApiKind api, Provider provider, const std::string& bytes, bool* error) {
  StreamAdapter::Options opts;
  opts.decode_text = true;
  StreamAdapter adapter(api, provider, opts);
  SseFramer framer;
  framer.push(bytes);
  SseBlock block;
  std::string text;
  while (framer.next(block)) {
    ResponseEvent ev;
    adapter.inspect(block, ev);
    for (const auto& d : ev.deltas) text += d.text;
  }
  EXPECT_EQ(adapter.malformed_events(), 0u);
  if (error) *error = adapter.facts().is_error;
  return text;
}

TEST(PiiStreamingProxy, UpstreamReadsSplitAnywhereIncludingInsideEscapes) {
  auto c = default_config();
  struct Shape {
    ApiKind api;
    Provider provider;
    int kind;  // 0 chat content, 1 chat tool arguments, 2 anthropic text
  };
  const Shape shapes[] = {{ApiKind::kChatCompletions, Provider::kOpenAI, 0},
                          {ApiKind::kChatCompletions, Provider::kOpenAI, 1},
                          {ApiKind::kMessages, Provider::kAnthropic, 2}};
  const std::vector<std::string> samples = {
      "Ünïcødé 🙂 jane.doe@example.com and 4111 1111 1111 1111 😀 done",
      "{\"query\": \"mail jane.doe@example.com, card 4111111111111111\"}",
      "Bearer " + kJwt + " then " + kPem + " end"};
  for (const auto& shape : shapes) {
    for (const auto& text : samples) {
      std::string up = shape.kind == 2 ? anthropic_stream(text) : chat_stream(text, shape.kind == 1);
      std::string want = redact_whole(*c, text).out;
      ASSERT_NE(want, text);
      // Every read size from 1 byte (every escape split at every position) upwards.
      for (std::size_t read : {1u, 2u, 3u, 5u, 7u, 11u, 64u, 1000u, 100000u}) {
        ProxyRun run = run_proxy(c, shape.api, shape.provider, up, read);
        bool error = false;
        EXPECT_EQ(client_text(shape.api, shape.provider, run.client, &error), want)
            << "read size " << read;
        EXPECT_FALSE(error);
        expect_no_value_bytes(run.client);
        if (shape.kind != 2) {
          EXPECT_NE(run.client.find("data: [DONE]"), std::string::npos);
        } else {
          EXPECT_NE(run.client.find("message_stop"), std::string::npos);
        }
      }
    }
  }
}

TEST(PiiStreamingProxy, EventsWhoseTextIsAllHeldAreLeftOut) {
  // A short answer is held whole until its end: its text-only events would go out with empty
  // text, so they are dropped; tool-call events keep their ids and names, so they stay.
  auto c = default_config();
  const std::string text = "A short answer, with nothing personal in it.";
  const std::size_t n = pieces(text).size();
  auto count = [](const std::string& bytes, std::string_view what) {
    std::size_t k = 0;
    for (std::size_t i = bytes.find(what); i != std::string::npos; i = bytes.find(what, i + 1)) ++k;
    return k;
  };
  for (int kind : {0, 2}) {
    const ApiKind api = kind == 2 ? ApiKind::kMessages : ApiKind::kChatCompletions;
    const Provider provider = kind == 2 ? Provider::kAnthropic : Provider::kOpenAI;
    const std::string up = kind == 2 ? anthropic_stream(text) : chat_stream(text, false);
    ProxyRun run = run_proxy(c, api, provider, up, 100000);
    EXPECT_EQ(client_text(api, provider, run.client, nullptr), text);
    const std::string_view event = kind == 2 ? "content_block_delta\ndata" : "\"delta\":{\"content\"";
    EXPECT_EQ(count(up, event), n);
    EXPECT_EQ(count(run.client, event), 1u) << run.client;  // the text, released at the end
    const std::string_view emptied = kind == 2 ? "text_delta\",\"text\":\"\"" : "\"content\":\"\"";
    EXPECT_EQ(count(run.client, emptied), 0u) << run.client;
  }
  ProxyRun tool = run_proxy(c, ApiKind::kChatCompletions, Provider::kOpenAI,
                            chat_stream(text, true), 100000);
  EXPECT_EQ(count(tool.client, "tool_calls\":[{"), n + 1);
  EXPECT_EQ(client_text(ApiKind::kChatCompletions, Provider::kOpenAI, tool.client, nullptr), text);
}

TEST(PiiStreamingProxy, BlockEndsTheStreamWithTheProvidersErrorBeforeTheValue) {
  auto c = testing::make_config("entities: {credit_card: block}");
  std::string text = "your card is 4111 1111 1111 1111, keep it safe";
  for (std::size_t read : {1u, 13u, 100000u}) {
    ProxyRun run = run_proxy(c, ApiKind::kChatCompletions, Provider::kOpenAI,
                             chat_stream(text, false), read);
    EXPECT_TRUE(run.ended_by_filter);
    EXPECT_NE(run.client.find("\"error\""), std::string::npos);
    EXPECT_NE(run.client.find("pii_blocked"), std::string::npos);
    EXPECT_EQ(run.client.find("4111"), std::string::npos);
    run = run_proxy(c, ApiKind::kMessages, Provider::kAnthropic, anthropic_stream(text), read);
    EXPECT_TRUE(run.ended_by_filter);
    EXPECT_NE(run.client.find("event: error"), std::string::npos);
    EXPECT_EQ(run.client.find("4111"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::pii
