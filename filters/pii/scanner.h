// The Vectorscan side of the pii filter: per config snapshot, compiled once, a streaming-mode
// database (start of match reported, so a candidate is a span, not just an end), the same
// patterns split over two streaming databases for bodies, and a block-mode one for a quick
// check of many short texts; a scratch space per thread, and a stream per text channel.
//
// Streaming mode carries the automaton's state from one chunk to the next, so a value split
// across SSE events is found exactly as it would be in the whole text; the redactor holds back
// only the text that a match still in progress could cover.
#pragma once

#include <hs/hs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/pii/patterns.h"

namespace sluice::pii {

// A raw match: pattern index and absolute byte offsets in the channel's text.
struct Candidate {
  std::uint32_t pattern = 0;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

class Engine {
 public:
  // Compiles `patterns`; on failure returns null and says which pattern and why in `error`.
  static std::shared_ptr<const Engine> build(std::vector<PatternSpec> patterns, std::string& error);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::vector<PatternSpec>& patterns() const { return patterns_; }
  std::uint32_t max_len() const { return max_len_; }  // longest bounded match
  // Longest match among patterns that may contain whitespace (custom patterns count as such):
  // a match of any other pattern cannot run across a space or a line break.
  std::uint32_t max_len_spaced() const { return max_len_spaced_; }
  const hs_database_t* db() const { return db_; }
  std::size_t stream_state_bytes() const { return stream_size_; }
  // The same patterns split over two streaming databases (numbers: phones, cards, IBANs,
  // SSNs, IPv4; everything else), for texts fed in large pieces (request and response
  // bodies). Vectorscan builds one slow engine for email + IBAN + IPv6 + the digit patterns
  // together and fast ones for each half: scanning prose in 4 KiB pieces takes ~45 % fewer
  // instructions split, but each call costs twice the set-up, so small SSE deltas use db().
  // Empty when the split failed to compile (then bodies use db() too).
  const std::vector<hs_database_t*>& bulk_dbs() const { return bulk_dbs_; }
  // The same patterns in block mode, reporting ends only, with ^ and $ at line breaks: a quick
  // "could any of these texts hold a finding?" pass over many texts joined by '\n' (see
  // prefilter.h). Null when a pattern anchors on the start or end of the whole text (\A, \z,
  // \Z, or an inline flag group that could turn multi-line off), which joining would change.
  const hs_database_t* block_db() const { return block_db_; }

  // This thread's scratch, grown to fit every database of this engine; null only when
  // allocation failed.
  hs_scratch_t* scratch() const;

 private:
  Engine() = default;
  std::vector<PatternSpec> patterns_;
  hs_database_t* db_ = nullptr;
  hs_database_t* block_db_ = nullptr;
  std::vector<hs_database_t*> bulk_dbs_;
  std::uint32_t max_len_ = 0;
  std::uint32_t max_len_spaced_ = 0;
  std::size_t stream_size_ = 0;
  std::uint64_t generation_ = 0;
};

// One Vectorscan stream with the candidates it reported. Keeps, per pattern and start, only
// the longest match (Vectorscan reports every end), and drops matches longer than the
// pattern's max_len or from patterns the owner disabled.
class ScanStream {
 public:
  // `bulk`: the text comes in large pieces; scan it with Engine::bulk_dbs() (same candidates).
  ScanStream(std::shared_ptr<const Engine> engine, std::vector<bool> enabled, bool bulk = false);
  ~ScanStream();
  ScanStream(const ScanStream&) = delete;
  ScanStream& operator=(const ScanStream&) = delete;

  // Feeds the next bytes. False when Vectorscan failed (no scratch / stream): the caller treats
  // that as an error, never as "nothing found".
  bool scan(std::string_view data);
  // Ends the text (reports matches anchored at its end) and starts a new one at offset `base`.
  bool restart(std::uint64_t base);
  // Ends the text, reporting matches anchored at its end.
  bool end();

  // Candidates not yet erased, in the order their first end was reported.
  const std::vector<Candidate>& candidates() const { return candidates_; }
  // Forgets candidates that start before `offset` (decided by the owner) / all of them.
  void erase_before(std::uint64_t offset);
  void clear();
  std::uint64_t offset() const { return base_ + fed_; }
  // The text being scanned, for patterns that extend a match leftwards (PatternSpec::left_extent):
  // `text` holds absolute offsets [*text_base, ...): every scanned byte not yet released and
  // at least kRetainBytes before those (fewer only at the start of the text).
  void set_text(const std::string* text, const std::uint64_t* text_base) {
    text_ = text;
    text_base_ = text_base;
  }
  const Engine& engine() const { return *engine_; }

 private:
  static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                      unsigned int flags, void* self);
  std::shared_ptr<const Engine> engine_;
  std::vector<bool> enabled_;
  std::vector<const hs_database_t*> dbs_;  // one stream each, opened on the first bytes
  std::vector<hs_stream_t*> streams_;
  std::uint64_t base_ = 0;  // absolute offset of the stream's byte 0
  std::uint64_t fed_ = 0;
  std::vector<Candidate> candidates_;
  std::vector<std::int64_t> last_;  // per pattern: index in candidates_ of its latest entry
  const std::string* text_ = nullptr;
  const std::uint64_t* text_base_ = nullptr;
};

}  // namespace sluice::pii
