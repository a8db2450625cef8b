// The split databases for bodies (Engine::bulk_dbs) must report exactly the candidates the
// single streaming database reports, whatever the pieces the text comes in.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "filters/pii/scanner.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

using Span = std::tuple<std::uint32_t, std::uint64_t, std::uint64_t>;

std::vector<Span> candidates(const std::shared_ptr<const Engine>& e, const std::string& text,
                             std::size_t chunk, bool bulk) {
  ScanStream scan(e, std::vector<bool>(e->patterns().size(), true), bulk);
  std::string seen;  // the text the scan has been fed, as the redactor holds it
  std::uint64_t base = 0;
  scan.set_text(&seen, &base);
  for (std::size_t i = 0; i < text.size(); i += chunk) {
    std::string_view piece = std::string_view(text).substr(i, chunk);
    seen.append(piece);
    EXPECT_TRUE(scan.scan(piece));
  }
  EXPECT_TRUE(scan.end());
  std::vector<Span> out;
  for (const Candidate& c : scan.candidates()) out.emplace_back(c.pattern, c.from, c.to);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ScannerTest, BodiesUseTwoDatabases) {
  EXPECT_EQ(testing::default_config()->engine->bulk_dbs().size(), 2u);
}

TEST(ScannerTest, SplitDatabasesReportTheSameCandidates) {
  const auto& e = testing::default_config()->engine;
  for (const char* name : {"pii_dense.txt", "clean_prose.txt"}) {
    const std::string text = testing::read_corpus(name).substr(0, 128 << 10);
    ASSERT_FALSE(text.empty()) << name;
    const auto want = candidates(e, text, 4096, false);
    EXPECT_GT(want.size(), 10u) << name;
    for (std::size_t chunk : {std::size_t{4096}, std::size_t{2048}, std::size_t{97}})
      EXPECT_EQ(candidates(e, text, chunk, true), want) << name << " chunk " << chunk;
  }
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789 .-+()x@abcdefDE:";
  std::uniform_int_distribution<std::size_t> length(1, 200), pick(0, alphabet.size() - 1);
  for (int i = 0; i < 500; ++i) {
    std::string text(length(rng), ' ');
    for (char& c : text) c = alphabet[pick(rng)];
    ASSERT_EQ(candidates(e, text, 13, true), candidates(e, text, 4096, false)) << text;
  }
}

}  // namespace
}  // namespace sluice::pii
