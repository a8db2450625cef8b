// The split databases for bodies (Engine::bulk_dbs) must report exactly the candidates the
// single streaming database reports, whatever the pieces the text comes in.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "filters/pii/scanner.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

using testing::Span;

std::vector<Span> candidates(const std::shared_ptr<const Engine>& e, const std::string& text,
                             std::size_t chunk, bool bulk) {
  return testing::scan_spans(e, std::vector<bool>(e->patterns().size(), true), text, chunk, bulk);
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
