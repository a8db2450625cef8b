// Test helpers for the pii filter: a config from YAML text, and whole-text / chunked redaction
// with the findings collected.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/pii/config.h"
#include "filters/pii/redactor.h"

namespace sluice::pii::testing {

inline std::shared_ptr<const Config> make_config(const std::string& yaml,
                                                 std::vector<std::string>* errors_out = nullptr) {
  ConfigErrors errors("test.yaml");
  YAML::Node n = yaml.empty() ? YAML::Node(YAML::NodeType::Undefined) : YAML::Load(yaml);
  ConfigNode node(n, "filters.pii", &errors);
  auto c = parse_config(node);
  if (errors_out) {
    *errors_out = errors.all();
  } else {
    for (const auto& e : errors.all()) ADD_FAILURE() << e;
  }
  return std::static_pointer_cast<const Config>(c);
}

struct Collect : FindingSink {
  std::vector<Finding> findings;
  void record(const Finding& f) override { findings.push_back(f); }
};

// Redacts `text` fed in chunks of the given sizes (cycled; {} = one chunk).
struct Redaction {
  std::string out;
  std::vector<Finding> findings;
  TextRedactor::Result result = TextRedactor::Result::kOk;
  std::size_t max_held = 0;
};

inline Redaction redact_chunks(const Config& c, std::string_view text,
                               const std::vector<std::size_t>& sizes,
                               Direction d = Direction::kResponse) {
  Policy p;
  p.direction = d;
  p.actions = d == Direction::kRequest ? c.actions.request : c.actions.response;
  p.catalog = &c.catalog;
  p.allow = &c.allow;
  p.mask = c.mask;
  p.mask_text = c.mask_text;
  Placeholders ph;
  Collect sink;
  TextRedactor r(c.engine, p, ph, &sink, c.hold_back);
  Redaction res;
  std::size_t pos = 0, k = 0;
  while (pos < text.size() && res.result == TextRedactor::Result::kOk) {
    std::size_t n = sizes.empty() ? text.size() : sizes[k++ % sizes.size()];
    n = std::min(n, text.size() - pos);
    res.result = r.push(text.substr(pos, n), res.out);
    res.max_held = std::max(res.max_held, r.held_bytes());
    pos += n;
  }
  if (res.result == TextRedactor::Result::kOk) res.result = r.finish(res.out);
  res.findings = sink.findings;
  return res;
}

inline Redaction redact_whole(const Config& c, std::string_view text,
                              Direction d = Direction::kResponse) {
  return redact_chunks(c, text, {}, d);
}

// A benchmark corpus (bench/corpora/pii/NAME); empty when it cannot be read.
inline std::string read_corpus(const std::string& name) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/bench/corpora/pii/" + name,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The candidates (pattern, from, to) a ScanStream reports for `text` fed in pieces of `chunk`
// bytes (0: whole), sorted; the stream sees the fed text as the redactor's held text.
using Span = std::tuple<std::uint32_t, std::uint64_t, std::uint64_t>;
inline std::vector<Span> scan_spans(const std::shared_ptr<const Engine>& e,
                                    const std::vector<bool>& enabled, const std::string& text,
                                    std::size_t chunk, bool bulk = false) {
  ScanStream scan(e, enabled, bulk);
  std::string seen;
  std::uint64_t base = 0;
  scan.set_text(&seen, &base);
  const std::size_t step = chunk == 0 ? std::max<std::size_t>(text.size(), 1) : chunk;
  for (std::size_t i = 0; i < text.size(); i += step) {
    std::string_view piece = std::string_view(text).substr(i, step);
    seen.append(piece);
    EXPECT_TRUE(scan.scan(piece));
  }
  EXPECT_TRUE(scan.end());
  std::vector<Span> out;
  for (const Candidate& c : scan.candidates()) out.emplace_back(c.pattern, c.from, c.to);
  std::sort(out.begin(), out.end());
  return out;
}

inline std::shared_ptr<const Config> default_config() {
  static auto c = make_config("");
  return c;
}

}  // namespace sluice::pii::testing
