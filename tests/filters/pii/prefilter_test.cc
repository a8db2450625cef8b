// JoinedTexts (prefilter.h) must mark every text in which the redactor, given that text alone,
// finds anything: checked on hand-picked texts, on disabled entities, on custom patterns with
// anchors, and against the redactor on thousands of slices of the benchmark corpora cut at
// random places (so texts start and end inside words, numbers and credentials).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "filters/pii/prefilter.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

std::vector<bool> marks(const Config& c, const std::vector<std::string>& texts,
                        Direction d = Direction::kRequest) {
  JoinedTexts joined;
  for (const auto& t : texts) joined.add(t);
  joined.mark(*c.engine, d == Direction::kRequest ? c.actions.request : c.actions.response);
  std::vector<bool> out;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(joined.text(i), texts[i]);
    out.push_back(joined.marked(i));
  }
  return out;
}

// What the redactor finds in `text` alone.
bool redactor_finds(const Config& c, const std::string& text) {
  auto r = testing::redact_whole(c, text, Direction::kRequest);
  return !r.findings.empty() || r.out != text || r.result != TextRedactor::Result::kOk;
}

TEST(PrefilterTest, MarksTheTextsThatHoldAValue) {
  const auto& c = *testing::default_config();
  EXPECT_EQ(marks(c, {"You are a concise assistant.", "mail me at ana@example.org today",
                      "Summarize the benefits of keep-alive connections in one sentence.",
                      "key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789", ""}),
            (std::vector<bool>{false, true, false, true, false}));
}

TEST(PrefilterTest, LongTextsAreLeftToTheRedactor) {
  const auto& c = *testing::default_config();
  const std::string prose(JoinedTexts::kMaxChecked + 1, 'a');
  EXPECT_EQ(marks(c, {"short", prose, "ana@example.org", prose.substr(1), "x"}),
            (std::vector<bool>{false, true, true, false, false}));
}

TEST(PrefilterTest, ValuesAtTheEdgesOfATextAreFound) {
  // Word boundaries at a text's start and end see the '\n' that joins the texts.
  const auto& c = *testing::default_config();
  EXPECT_EQ(marks(c, {"123-45-6789", "192.168.10.20", "4111 1111 1111 1111", "x"}),
            (std::vector<bool>{true, true, true, false}));
}

TEST(PrefilterTest, DisabledEntitiesMarkNothing) {
  auto c = testing::make_config("entities: {email: off}");
  EXPECT_EQ(marks(*c, {"ana@example.org", "AKIAIOSFODNN7EXAMPLE"}),
            (std::vector<bool>{false, true}));
  auto r = testing::make_config("entities: {email: {request: off, response: redact}}");
  EXPECT_EQ(marks(*r, {"ana@example.org"}, Direction::kRequest), std::vector<bool>{false});
  EXPECT_EQ(marks(*r, {"ana@example.org"}, Direction::kResponse), std::vector<bool>{true});
}

TEST(PrefilterTest, LineAnchorsInCustomPatternsHoldForEveryText) {
  auto c = testing::make_config(R"(
custom:
  - {name: ticket, pattern: '^TCK-[0-9]{6}$', max_length: 10})");
  ASSERT_NE(c->engine->block_db(), nullptr);
  EXPECT_EQ(marks(*c, {"TCK-123456", "TCK-654321", "see TCK-111111", "TCK-222222 here"}),
            (std::vector<bool>{true, true, false, false}));
  for (const char* t : {"TCK-123456", "TCK-654321"}) EXPECT_TRUE(redactor_finds(*c, t)) << t;
}

TEST(PrefilterTest, WholeTextAnchorsMarkEveryText) {
  for (const char* pattern : {R"('\ATCK-[0-9]{6}')", R"('TCK-[0-9]{6}\z')", R"('(?i-m)^TCK-[0-9]{6}')"}) {
    auto c = testing::make_config(std::string("custom:\n  - {name: ticket, pattern: ") + pattern +
                                  ", max_length: 10}");
    ASSERT_NE(c, nullptr) << pattern;
    EXPECT_EQ(c->engine->block_db(), nullptr) << pattern;
    EXPECT_EQ(marks(*c, {"nothing here", "TCK-123456"}), (std::vector<bool>{true, true}))
        << pattern;
  }
  // An escaped backslash before the letter is not an anchor.
  auto c = testing::make_config(R"(
custom:
  - {name: path, pattern: 'C:\\Apps\\[a-z]{8}', max_length: 20})");
  EXPECT_NE(c->engine->block_db(), nullptr);
}

TEST(PrefilterTest, NeverMissesWhatTheRedactorFindsInCorpusSlices) {
  const auto& c = *testing::default_config();
  std::size_t found = 0;
  for (const char* name : {"pii_dense.txt", "clean_prose.txt"}) {
    const std::string corpus = testing::read_corpus(name);
    ASSERT_FALSE(corpus.empty()) << name;
    std::mt19937 rng(20261207);
    std::uniform_int_distribution<std::size_t> start(0, corpus.size() - 1), length(0, 200);
    for (int round = 0; round < 150; ++round) {
      std::vector<std::string> texts;
      for (int i = 0; i < 8; ++i) texts.push_back(corpus.substr(start(rng), length(rng)));
      const auto marked = marks(c, texts);
      for (std::size_t i = 0; i < texts.size(); ++i) {
        if (!redactor_finds(c, texts[i])) continue;
        ++found;
        ASSERT_TRUE(marked[i]) << name << ": " << texts[i];
      }
    }
  }
  EXPECT_GT(found, 300u);  // the dense corpus has a value every ~120 bytes
}

}  // namespace
}  // namespace sluice::pii
