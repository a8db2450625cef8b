// Patterns compiled without start-of-match tracking (PatternSpec::start_from_end) must report
// exactly the candidates Vectorscan's HS_FLAG_SOM_LEFTMOST reports for them: the same
// patterns compiled with it are the reference, on random digit-heavy text, on the benchmark
// corpora and on hand-picked edges, whole and fed in small chunks.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "filters/pii/patterns.h"
#include "filters/pii/scanner.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

std::shared_ptr<const Engine> engine(bool reference) {
  std::vector<PatternSpec> patterns = builtin_patterns();
  if (reference)
    for (auto& p : patterns) p.start_from_end = nullptr;
  std::string error;
  auto e = Engine::build(std::move(patterns), error);
  EXPECT_NE(e, nullptr) << error;
  return e;
}

using testing::Span;

// The candidates of the patterns that find their start from the end, for `text` fed in
// chunks of `chunk` bytes (0: whole).
std::vector<Span> spans(const std::shared_ptr<const Engine>& e, const std::string& text,
                        std::size_t chunk) {
  std::vector<bool> enabled(e->patterns().size(), false);
  for (std::size_t i = 0; i < enabled.size(); ++i)
    enabled[i] = builtin_patterns()[i].start_from_end != nullptr;
  return testing::scan_spans(e, enabled, text, chunk);
}

class StartFromEndTest : public ::testing::Test {
 protected:
  void expect_same(const std::string& text) {
    const auto want = spans(reference_, text, 0);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
      EXPECT_EQ(spans(fast_, text, chunk), want) << "chunk " << chunk << " text: " << text;
    }
  }
  std::shared_ptr<const Engine> reference_ = engine(true);
  std::shared_ptr<const Engine> fast_ = engine(false);
};

TEST_F(StartFromEndTest, SomePatternsUseIt) {
  std::size_t n = 0;
  for (const auto& p : builtin_patterns()) n += p.start_from_end != nullptr;
  EXPECT_GE(n, 11u);
}

TEST_F(StartFromEndTest, HandPickedEdges) {
  for (const std::string text : {
           "+4915112345678", "call +44 20 7946 0958 now", "x+123456789012345678", "a12 34 56",
           "12 34 56 78 90 12 34 56", "123456789 12 34", "4111 1111 1111 1111",
           "4111-1111-1111-1111",
           "a4111 1111 1111 1111", "_4111111111111111", "123-45-6789", "123 45 6789",
           "0123-45-6789", "192.168.0.1", "1192.168.0.1", "1.2.3.4.5", "x192.168.0.1", "12 345",
           "1 2 3 4 5 6 7 8 9", "--12--34", " 12.34.56.78.90 ", "1234567890123 4567890123456",
           "+1 (555) 123-4567", "+1(555)1234567", "+44 20 7946 0958", "+12345678901 22",
           "+123456789012 3", "(555) 123 4567", "((12)3", "+1 +2 3", "+(12) 34", "+1 2 3 4 5 6 7 8",
       }) {
    expect_same(text);
  }
}

TEST_F(StartFromEndTest, GithubTokens) {
  const std::string a36 = "R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae";
  const std::string a82 = a36 + a36 + "abcdEFGH_0";
  for (const std::string& text : {
           "ghp_" + a36, "token ghp_" + a36 + " end", "xghs_" + a36, "ghx_" + a36,
           "ghp_" + a36 + "_", "github_pat_" + a82,
           "github_pat_" + a82.substr(0, 42) + "ghp_" + a36,
           "github_pat_" + a82.substr(0, 81) + "-", "ghp_ghp_" + a36 + a36,
       }) {
    expect_same(text);
  }
  std::mt19937 rng(93);
  const std::string alphabet = "ghpousr_itabAZ09- ";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), pos(0, 60);
  for (int i = 0; i < 1500; ++i) {
    std::string text(pos(rng), 'a');
    for (char& c : text) c = alphabet[pick(rng)];
    const std::size_t at = pos(rng) % (text.size() + 1);
    const std::string classic = "gh" + std::string(1, "pousr"[i % 5]) + "_";
    text.insert(at, i % 2 ? "github_pat_" + a82.substr(0, 60 + i % 30)
                          : classic + a36.substr(0, 30 + i % 10));
    for (char& c : text) if (rng() % 40 == 0) c = alphabet[pick(rng)];
    ASSERT_EQ(spans(fast_, text, 0), spans(reference_, text, 0)) << text;
    ASSERT_EQ(spans(fast_, text, 7), spans(reference_, text, 0)) << text;
  }
}

TEST_F(StartFromEndTest, OpenAiProjectAndAwsAccessKeys) {
  const std::string a40 = "Ab3_-9zYx8WvU7tSr6QpO5nMl4KjI3hG2fE1dC0b";
  for (const std::string& text : {
           "sk-proj-" + a40, "key=sk-svcacct-" + a40 + ";", "sk-admin-" + a40,
           "sk-svcacct-" + a40.substr(0, 37) + "-x-" + a40, "sk-admin-sk-proj-" + a40,
           "sk-proj-" + a40 + a40, std::string("AKIAIOSFODNN7EXAMPLE"),
           std::string("xAKIAIOSFODNN7EXAMPLE"), std::string("A3TXIOSFODNN7EXAMPLE1"),
           std::string("ASIAIOSFODNN7EXAMPLE ACCAIOSFODNN7EXAMPLE"),
       }) {
    expect_same(text);
  }
  std::mt19937 rng(40);
  const std::string alphabet = "sk-projvcatdmin_AKIS3T09 ";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), pos(0, 50);
  const char* heads[] = {"sk-proj-", "sk-svcacct-", "sk-admin-", "AKIA", "A3T", "ASIA"};
  for (int i = 0; i < 1500; ++i) {
    std::string text(pos(rng), 'a');
    for (char& c : text) c = alphabet[pick(rng)];
    const std::string head = heads[i % 6];
    std::string tail = i % 6 < 3 ? a40.substr(0, 35 + i % 8) : "IOSFODNN7EXAMPLE12";
    text.insert(pos(rng) % (text.size() + 1), head + tail);
    for (char& c : text)
      if (rng() % 30 == 0) c = alphabet[pick(rng)];
    ASSERT_EQ(spans(fast_, text, 0), spans(reference_, text, 0)) << text;
    ASSERT_EQ(spans(fast_, text, 5), spans(reference_, text, 0)) << text;
  }
}

TEST_F(StartFromEndTest, RandomDigitHeavyText) {
  // Bytes the digit patterns care about, plus word bytes that break boundaries; one text in
  // three without the rarer ones, one in three rich in '+', '(' and ')'.
  const std::string alphabets[] = {"0123456789 .-+()x_a", "0123456789 .", "0123456789+() -"};
  std::mt19937 rng(20261207);
  std::uniform_int_distribution<std::size_t> length(1, 120);
  for (int i = 0; i < 4500; ++i) {
    const std::string& alphabet = alphabets[i % 3];
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string text(length(rng), ' ');
    for (char& c : text) c = alphabet[pick(rng)];
    const auto want = spans(reference_, text, 0);
    ASSERT_EQ(spans(fast_, text, 0), want) << text;
    ASSERT_EQ(spans(fast_, text, 5), want) << text;
  }
}

TEST_F(StartFromEndTest, BenchmarkCorpora) {
  for (const char* name : {"clean_prose.txt", "pii_dense.txt"}) {
    const std::string text = testing::read_corpus(name);
    ASSERT_FALSE(text.empty()) << name;
    const auto want = spans(reference_, text, 0);
    EXPECT_GT(want.size(), 0u) << name;
    EXPECT_EQ(spans(fast_, text, 0), want) << name;
    EXPECT_EQ(spans(fast_, text, 4096), want) << name;
  }
}

TEST_F(StartFromEndTest, RedactingTheDenseCorpusGivesTheSameTextForAnyChunking) {
  // The dense corpus has JWTs and PEM blocks: after such a value the redactor resets its
  // stream with the text before it gone, and matches reported by that reset have no text to
  // find their start in (they are dropped, as the redactor drops every candidate there).
  const std::string text = testing::read_corpus("pii_dense.txt").substr(0, 64 << 10);
  ASSERT_FALSE(text.empty());
  const auto& config = *testing::default_config();
  const auto whole = testing::redact_whole(config, text);
  ASSERT_EQ(whole.result, TextRedactor::Result::kOk);
  EXPECT_GT(whole.findings.size(), 100u);
  for (std::size_t chunk : {std::size_t{16}, std::size_t{251}}) {
    const auto chunked = testing::redact_chunks(config, text, {chunk});
    ASSERT_EQ(chunked.result, TextRedactor::Result::kOk) << chunk;
    EXPECT_EQ(chunked.out, whole.out) << chunk;
    EXPECT_EQ(chunked.findings.size(), whole.findings.size()) << chunk;
  }
}

}  // namespace
}  // namespace sluice::pii
