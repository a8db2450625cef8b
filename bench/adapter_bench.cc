// Provider adapter micro-benchmarks: request validation, usage injection, per-event stream
// inspection and re-encoding. Inputs are built in memory in the shapes the providers send.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proxy/providers/adapter.h"

namespace {

using sluice::ApiKind;
using sluice::Provider;
using sluice::ResponseEvent;
using sluice::SseBlock;
using sluice::StreamAdapter;

// A chat request with `messages` messages of about `chars` characters each.
std::string chat_body(int messages, int chars) {
  std::string b = R"({"model":"gpt-4o","stream":true,"max_tokens":512,"messages":[)";
  for (int i = 0; i < messages; ++i) {
    if (i) b += ',';
    b += R"({"role":")";
    b += i % 2 ? "assistant" : "user";
    b += R"(","content":")";
    for (int c = 0; c < chars; ++c) b += static_cast<char>('a' + (c * 7 + i) % 26);
    b += R"( caf\u00e9 \"quoted\"\n"})";
  }
  b += R"(],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object",)"
       R"("properties":{"q":{"type":"string"}}}}}]})";
  return b;
}

void BM_ReadRequest(benchmark::State& state) {
  const std::string body = chat_body(static_cast<int>(state.range(0)), 200);
  for (auto _ : state) {
    auto r = sluice::read_request(ApiKind::kChatCompletions, body);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReadRequest)->Arg(4)->Arg(64)->Arg(512);

void BM_InjectStreamUsage(benchmark::State& state) {
  const std::string body = chat_body(4, 200);
  for (auto _ : state) {
    auto r = sluice::inject_stream_usage(body);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_InjectStreamUsage);

// Chat chunks the way OpenAI writes them with include_usage (usage null in every chunk).
struct ChatStreamData {
  std::vector<std::string> raws;
  std::vector<std::string> datas;
  std::vector<SseBlock> blocks;
  std::size_t bytes = 0;

  ChatStreamData(int chunks, bool anthropic) {
    for (int i = 0; i < chunks; ++i) {
      std::string d;
      if (anthropic) {
        d = R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" token)" +
            std::to_string(i) + R"("}})";
      } else {
        d = R"({"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk",)"
            R"("created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default",)"
            R"("system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":{"content":" token)" +
            std::to_string(i) + R"("},"logprobs":null,"finish_reason":null}],"usage":null})";
      }
      datas.push_back(d);
      raws.push_back((anthropic ? "event: content_block_delta\ndata: " : "data: ") + d + "\n\n");
      bytes += raws.back().size();
    }
    for (std::size_t i = 0; i < datas.size(); ++i) {
      SseBlock b;
      b.raw = raws[i];
      b.data = datas[i];
      b.event = anthropic ? "content_block_delta" : "";
      b.dispatch = true;
      blocks.push_back(b);
    }
  }
};

void run_stream(benchmark::State& state, ApiKind api, Provider provider, bool strip, bool decode,
                bool modify) {
  const ChatStreamData s(256, api == ApiKind::kMessages);
  std::string out;
  out.reserve(s.bytes * 2);
  for (auto _ : state) {
    StreamAdapter a(api, provider, {strip, decode});
    out.clear();
    for (const SseBlock& b : s.blocks) {
      ResponseEvent ev;
      a.inspect(b, ev);
      if (modify && !ev.deltas.empty()) {
        ev.deltas[0].text = "[REDACTED]";
        ev.deltas[0].modified = true;
      }
      a.render(ev, out);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * s.blocks.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.bytes));
}

void BM_ChatInspect(benchmark::State& s) {
  run_stream(s, ApiKind::kChatCompletions, Provider::kOpenAI, false, false, false);
}
void BM_ChatInspectDecode(benchmark::State& s) {
  run_stream(s, ApiKind::kChatCompletions, Provider::kOpenAI, false, true, false);
}
void BM_ChatStripUsage(benchmark::State& s) {
  run_stream(s, ApiKind::kChatCompletions, Provider::kOpenAI, true, false, false);
}
void BM_ChatRewriteEveryDelta(benchmark::State& s) {
  run_stream(s, ApiKind::kChatCompletions, Provider::kOpenAI, false, true, true);
}
void BM_AnthropicInspectDecode(benchmark::State& s) {
  run_stream(s, ApiKind::kMessages, Provider::kAnthropic, false, true, false);
}
BENCHMARK(BM_ChatInspect);
BENCHMARK(BM_ChatInspectDecode);
BENCHMARK(BM_ChatStripUsage);
BENCHMARK(BM_ChatRewriteEveryDelta);
BENCHMARK(BM_AnthropicInspectDecode);

}  // namespace
