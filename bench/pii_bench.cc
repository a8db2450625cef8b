// The pii filter's cost on one core, over the committed corpora (bench/corpora/pii):
//
//  * BM_RequestBody: the whole request pipeline — a chat body holding the corpus as 64 messages
//    (JSON-escaped, "\n" escapes included), walked, unescaped, scanned, validated, spliced back.
//  * BM_SmallCall: one short chat call, request and non-streamed answer (per-call costs).
//  * BM_StreamedText: one response channel fed in 16-byte deltas (a token is ~4 bytes; 16
//    stands for a few tokens per SSE event), hold-back and release included.
//  * BM_SecretsScan: the credential patterns alone (the Vectorscan stream, no validation).
//  * BM_AllPatternsScan: every pattern, Vectorscan only.
//
// Bytes/s counts corpus (request: body) bytes. Run from the repository root, or set
// SLUICE_PII_CORPORA to the corpora folder.
//
// Instructions per byte: `pii_bench --once WORKLOAD CORPUS` runs one pass of a workload
// (request | call | stream16 | secrets | all; clean | dense; `call` ignores the corpus)
// inside measured_once(), for
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_once*' \
//     pii_bench --once request clean
// and prints the bytes it processed; Ir / bytes is the figure.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/pii/config.h"
#include "filters/pii/filter.h"
#include "filters/pii/json_text.h"
#include "filters/pii/redactor.h"

namespace {

using namespace sluice;
using namespace sluice::pii;

std::string corpus(const char* name) {
  const char* dir = std::getenv("SLUICE_PII_CORPORA");
  std::string path = std::string(dir ? dir : "bench/corpora/pii") + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "pii_bench: cannot read %s (run from the repository root)\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& clean() {
  static std::string s = corpus("clean_prose.txt");
  return s;
}
const std::string& dense() {
  static std::string s = corpus("pii_dense.txt");
  return s;
}

std::shared_ptr<const pii::Config> config(const std::string& yaml = "") {
  ConfigErrors errors("bench");
  YAML::Node n = yaml.empty() ? YAML::Node(YAML::NodeType::Undefined) : YAML::Load(yaml);
  auto c = std::static_pointer_cast<const pii::Config>(parse_config(ConfigNode(n, "filters.pii", &errors)));
  if (!c || !errors.empty()) std::abort();
  return c;
}

std::string chat_body(const std::string& text) {
  std::string body = R"({"model":"gpt-4o","messages":[)";
  const std::size_t parts = 64, step = text.size() / parts;
  for (std::size_t i = 0; i < parts; ++i) {
    std::size_t b = i * step, e = i + 1 == parts ? text.size() : (i + 1) * step;
    if (i) body += ',';
    body += R"({"role":"user","content":")";
    json_escape_append(body, std::string_view(text).substr(b, e - b));
    body += "\"}";
  }
  body += "]}";
  return body;
}

void BM_RequestBody(benchmark::State& state, const std::string* text) {
  auto cfg = config();
  const std::string body = chat_body(*text);
  std::string work;
  for (auto _ : state) {
    PiiFilter f(cfg);  // per call, as the proxy does
    work = body;
    auto r = f.redact_json(work, Direction::kRequest);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(work.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

// One chat call as bench/pii_rps.py sends it: a short system and user prompt, and a
// non-streamed answer shaped like the mock's. Per-call costs (walk, scanner set-up) dominate.
const std::string kSmallRequest =
    R"({"model":"gpt-4o","messages":[{"role":"system","content":"You are a concise assistant."},)"
    R"({"role":"user","content":"Summarize the benefits of keep-alive connections in one sentence."}]})";
const std::string kSmallResponse =
    R"({"id":"chatcmpl-mock-1","object":"chat.completion","created":1765000000,"model":"gpt-4o",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Keep-alive connections )"
    R"(avoid a new handshake per request, which lowers latency and server load."},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":16,"total_tokens":40}})";

std::size_t small_call(const std::shared_ptr<const pii::Config>& cfg) {
  PiiFilter f(cfg);
  std::string req = kSmallRequest, resp = kSmallResponse;
  f.redact_json(req, Direction::kRequest);
  f.redact_json(resp, Direction::kResponse);
  benchmark::DoNotOptimize(req.data());
  benchmark::DoNotOptimize(resp.data());
  return kSmallRequest.size() + kSmallResponse.size();
}

void BM_SmallCall(benchmark::State& state) {
  auto cfg = config();
  for (auto _ : state) small_call(cfg);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_StreamedText(benchmark::State& state, const std::string* text) {
  auto cfg = config();
  Policy p;
  p.actions = cfg->actions.response;
  p.catalog = &cfg->catalog;
  p.allow = &cfg->allow;
  std::string out;
  const std::size_t chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    Placeholders ph;
    TextRedactor r(cfg->engine, p, ph, nullptr, cfg->hold_back);
    for (std::size_t pos = 0; pos < text->size(); pos += chunk) {
      out.clear();
      r.push(std::string_view(*text).substr(pos, chunk), out);
    }
    out.clear();
    r.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text->size()));
}

void scan_only(benchmark::State& state, const std::string* text, const std::string& yaml) {
  auto cfg = config(yaml);
  std::vector<bool> on;
  for (const auto& spec : cfg->engine->patterns())
    on.push_back(cfg->actions.response[spec.entity] != Action::kOff);
  for (auto _ : state) {
    ScanStream s(cfg->engine, on);
    for (std::size_t pos = 0; pos < text->size(); pos += 4096)
      s.scan(std::string_view(*text).substr(pos, 4096));
    s.end();
    benchmark::DoNotOptimize(s.candidates().size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text->size()));
}

// Vectorscan skips the disabled patterns' matches but still runs them: the secrets-only figure
// comes from a database that holds only the credential patterns.
void BM_SecretsScan(benchmark::State& state, const std::string* text) {
  std::vector<PatternSpec> secrets;
  for (const auto& p : builtin_patterns())
    if (info(static_cast<Entity>(p.entity)).secret) secrets.push_back(p);
  std::string error;
  auto engine = Engine::build(secrets, error);
  std::vector<bool> on(secrets.size(), true);
  for (auto _ : state) {
    ScanStream s(engine, on);
    for (std::size_t pos = 0; pos < text->size(); pos += 4096)
      s.scan(std::string_view(*text).substr(pos, 4096));
    s.end();
    benchmark::DoNotOptimize(s.candidates().size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text->size()));
}

void BM_AllPatternsScan(benchmark::State& state, const std::string* text) {
  scan_only(state, text, "");
}

// One pass of a workload, kept out of line so callgrind can count exactly its instructions.
[[gnu::noinline]] std::size_t measured_once(const std::string& workload, const std::string& text,
                                            const std::string& body,
                                            const std::shared_ptr<const pii::Config>& cfg,
                                            const std::shared_ptr<const Engine>& secrets) {
  if (workload == "request") {
    PiiFilter f(cfg);
    std::string work = body;
    f.redact_json(work, Direction::kRequest);
    return body.size();
  }
  if (workload == "call") return small_call(cfg);
  if (workload == "stream16") {
    Policy p;
    p.actions = cfg->actions.response;
    p.catalog = &cfg->catalog;
    p.allow = &cfg->allow;
    Placeholders ph;
    TextRedactor r(cfg->engine, p, ph, nullptr, cfg->hold_back);
    std::string out;
    for (std::size_t pos = 0; pos < text.size(); pos += 16) r.push(std::string_view(text).substr(pos, 16), out);
    r.finish(out);
    return text.size();
  }
  const auto& engine = workload == "secrets" ? secrets : cfg->engine;
  ScanStream s(engine, std::vector<bool>(engine->patterns().size(), true));
  for (std::size_t pos = 0; pos < text.size(); pos += 4096) s.scan(std::string_view(text).substr(pos, 4096));
  s.end();
  return text.size();
}

BENCHMARK_CAPTURE(BM_RequestBody, clean_prose, &clean());
BENCHMARK_CAPTURE(BM_RequestBody, pii_dense, &dense());
BENCHMARK(BM_SmallCall);
BENCHMARK_CAPTURE(BM_StreamedText, clean_prose, &clean())->Arg(16)->Arg(256);
BENCHMARK_CAPTURE(BM_StreamedText, pii_dense, &dense())->Arg(16)->Arg(256);
BENCHMARK_CAPTURE(BM_SecretsScan, clean_prose, &clean());
BENCHMARK_CAPTURE(BM_SecretsScan, pii_dense, &dense());
BENCHMARK_CAPTURE(BM_AllPatternsScan, clean_prose, &clean());
BENCHMARK_CAPTURE(BM_AllPatternsScan, pii_dense, &dense());

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--once") {
    const std::string& text = std::string(argv[3]) == "dense" ? dense() : clean();
    auto cfg = config();
    std::vector<PatternSpec> secret_patterns;
    for (const auto& p : builtin_patterns())
      if (info(static_cast<Entity>(p.entity)).secret) secret_patterns.push_back(p);
    std::string error;
    auto secrets = Engine::build(secret_patterns, error);
    std::string body = chat_body(text);
    // Warm the thread's scratch outside the measured passes, and the allocator in a first one.
    secrets->scratch();
    cfg->engine->scratch();
    measured_once(argv[2], text, body, cfg, secrets);
    std::printf("bytes %zu\n", measured_once(argv[2], text, body, cfg, secrets));
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
