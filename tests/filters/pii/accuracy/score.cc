// pii_accuracy: precision and recall of the pii filter's detection, per entity type, over
// labelled texts (the presidio synthetic set and this folder's own sets; same JSON layout:
// [{full_text, spans: [{entity_type, start_position, end_position}]}], positions in characters).
//
//   pii_accuracy [--check] [--verbose] FILE...
//
// A label is found when a finding of its type overlaps it (recall); a finding is correct when it
// overlaps a label of its type (precision). Findings in texts of types with no label there are
// false positives, which is what the hard-negative set measures. --check exits 1 when a target
// of issue 4 is missed; a missing file exits 77 (ctest: skipped), since the presidio set lives
// outside the repository. --verbose prints the misses (values included: run it locally only).
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/pii/config.h"
#include "filters/pii/redactor.h"

namespace {

using namespace sluice;
using namespace sluice::pii;

// Presidio's names for the structured types; secrets sets use the filter's own names.
std::string our_type(std::string_view t) {
  static const std::map<std::string, std::string, std::less<>> kMap = {
      {"CREDIT_CARD", "credit_card"}, {"IBAN_CODE", "iban"}, {"US_SSN", "us_ssn"},
      {"EMAIL_ADDRESS", "email"}, {"IP_ADDRESS", "ip_address"}, {"PHONE_NUMBER", "phone"}};
  auto it = kMap.find(t);
  if (it != kMap.end()) return it->second;
  if (t == "ipv4" || t == "ipv6") return "ip_address";
  return std::string(t);
}

std::size_t byte_offset(const std::string& s, std::int64_t chars) {
  std::size_t i = 0;
  for (std::int64_t c = 0; c < chars && i < s.size(); ++c) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

struct Counts {
  long labels = 0, found = 0, findings = 0, correct = 0;
};

struct Collect : FindingSink {
  std::vector<Finding> f;
  void record(const Finding& x) override { f.push_back(x); }
};

}  // namespace

int main(int argc, char** argv) {
  bool check = false, verbose = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--check") check = true;
    else if (a == "--verbose") verbose = true;
    else files.push_back(a);
  }
  ConfigErrors errors("built-in");
  ConfigNode none(YAML::Node(YAML::NodeType::Undefined), "filters.pii", &errors);
  auto cfg = std::static_pointer_cast<const pii::Config>(parse_config(none));
  Policy policy;
  policy.actions = cfg->actions.response;
  policy.catalog = &cfg->catalog;
  policy.allow = &cfg->allow;

  std::map<std::string, Counts> counts;
  simdjson::dom::parser parser;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) {
      std::fprintf(stderr, "%s: cannot open (skipped)\n", file.c_str());
      return 77;
    }
    simdjson::dom::element doc;
    if (parser.load(file).get(doc)) {
      std::fprintf(stderr, "%s: not JSON\n", file.c_str());
      return 2;
    }
    for (simdjson::dom::element item : doc.get_array()) {
      std::string text(std::string_view(item["full_text"].get_string().value()));
      struct Label {
        std::string type;
        std::size_t b, e;
        bool found = false;
      };
      std::vector<Label> labels;
      for (simdjson::dom::element sp : item["spans"].get_array()) {
        std::string t = our_type(sp["entity_type"].get_string().value());
        labels.push_back({t, byte_offset(text, sp["start_position"].get_int64().value()),
                          byte_offset(text, sp["end_position"].get_int64().value())});
      }
      Placeholders ph;
      Collect sink;
      TextRedactor r(cfg->engine, policy, ph, &sink, cfg->hold_back);
      std::string out;
      r.push(text, out);
      r.finish(out);
      for (const auto& f : sink.f) {
        std::string t = our_type(cfg->catalog.names[f.entity]);
        Counts& c = counts[t];
        ++c.findings;
        bool ok = false;
        for (auto& l : labels) {
          if (l.type == t && f.begin < l.e && l.b < f.end) {
            ok = true;
            l.found = true;
          }
        }
        if (ok) ++c.correct;
        else if (verbose)
          std::printf("FP %-14s '%s' in: %s\n", t.c_str(),
                      text.substr(f.begin, f.end - f.begin).c_str(), text.c_str());
      }
      for (const auto& l : labels) {
        Counts& c = counts[l.type];
        ++c.labels;
        if (l.found) ++c.found;
        else if (verbose && (l.type == "credit_card" || l.type == "iban" || l.type == "us_ssn" ||
                             l.type == "email" || l.type == "ip_address" || l.type == "phone" ||
                             cfg->catalog.names.end() != std::find(cfg->catalog.names.begin(),
                                                                   cfg->catalog.names.end(), l.type)))
          std::printf("FN %-14s '%s' in: %s\n", l.type.c_str(), text.substr(l.b, l.e - l.b).c_str(),
                      text.c_str());
      }
    }
  }

  // Types this filter detects; label types it does not (PERSON, ...) are not listed.
  std::vector<std::string> ours = {"credit_card", "iban", "us_ssn", "email", "ip_address", "phone"};
  for (std::size_t i = static_cast<std::size_t>(Entity::kOpenAiKey); i < kBuiltinEntities; ++i)
    ours.push_back(cfg->catalog.names[i]);
  std::printf("| type | labelled | found | recall | findings | correct | precision | target |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  bool pass = true;
  for (const auto& t : ours) {
    const Counts& c = counts[t];
    double recall = c.labels ? double(c.found) / double(c.labels) : 1.0;
    double precision = c.findings ? double(c.correct) / double(c.findings) : 1.0;
    std::string target = "R ≥ 0.98, P ≥ 0.98";
    double want_r = 0.98, want_p = 0.98;
    if (t == "phone") target = "R ≥ 0.85, P ≥ 0.95", want_r = 0.85, want_p = 0.95;
    if (t == "generic_secret") target = "alert-only heuristic", want_r = 0, want_p = 0;
    bool ok = recall >= want_r && precision >= want_p;
    pass = pass && ok;
    std::printf("| %s | %ld | %ld | %.3f | %ld | %ld | %.3f | %s%s |\n", t.c_str(), c.labels, c.found,
                recall, c.findings, c.correct, precision, target.c_str(), ok ? "" : " **missed**");
  }
  return check && !pass ? 1 : 0;
}
