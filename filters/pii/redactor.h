// TextRedactor: redacts one text (a request string, or one response channel's streamed text)
// that arrives in chunks, holding back as little as it can.
//
// Guarantee: for any split of a text into chunks, the concatenated output of push()... finish()
// equals the output of push(whole text) + finish(), and the same findings are reported in the
// same order. It holds back at most `hold_back` bytes beyond the chunk just pushed (plus the
// span of a finding that straddles the release point, at most the longest pattern), which must
// exceed the engine's longest match by the validators' context (kContextBytes; the config
// checks it).
//
// How: Vectorscan (streaming mode, start of match) reports candidate spans as bytes arrive. A
// candidate that starts more than `hold_back` bytes before the end of the text seen so far
// cannot grow any more (every pattern's match is shorter than that), so it is validated; a
// validated finding that starts before that point cannot be displaced by a later one, so it is
// selected (leftmost first, then longest, then priority; overlaps lose). Text before the point
// and before any undecided candidate is released, with selected findings replaced.
// Released text always ends on a UTF-8 character boundary, so re-encoding never splits one.
//
// Values with no length bound (PEM private key blocks, JWTs) are found by their opening marker;
// from the marker on, text is suppressed (replaced by one placeholder) until the value ends
// (the PEM END line; the first character that cannot be part of a JWT), then scanning starts
// afresh. A `block` finding stops the redactor before any byte of it is released.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/pii/policy.h"
#include "filters/pii/scanner.h"

namespace sluice::pii {

struct Finding {
  std::uint32_t entity = 0;
  Action action = Action::kOff;
  std::uint64_t begin = 0;  // byte offsets in the decoded text (for unbounded values: the marker)
  std::uint64_t end = 0;
};

class FindingSink {
 public:
  virtual ~FindingSink() = default;
  virtual void record(const Finding& f) = 0;
};

class TextRedactor {
 public:
  enum class Result { kOk, kBlocked, kError };

  // `policy`, `placeholders` and `sink` (may be null) must outlive the redactor. `bulk`: the
  // text comes in large pieces (a body's strings), see Engine::bulk_dbs().
  TextRedactor(std::shared_ptr<const Engine> engine, const Policy& policy,
               Placeholders& placeholders, FindingSink* sink, std::size_t hold_back,
               bool bulk = false);

  // Appends to `out` whatever can be released. After kBlocked or kError the redactor ignores
  // further input; kError means the scanner failed (the caller must not pass text unchecked).
  Result push(std::string_view text, std::string& out);
  // End of the text: releases everything still held (redacted). A text none of which was
  // scanned yet (shorter than the hold-back) is first checked in one block-mode call
  // (prefilter.h); when nothing can match, it goes out as it is, without a stream.
  Result finish(std::string& out);
  // Starts a new, independent text (same call, same placeholders). `may_match`: the caller
  // already knows that a pattern may match in it (prefilter.h), so finish() does not check.
  void reset(bool may_match = false);

  std::size_t held_bytes() const { return buf_.size() - (base_ - keep_); }
  bool blocked() const { return result_ == Result::kBlocked; }
  const Finding& blocking_finding() const { return blocking_; }
  std::uint64_t findings() const { return findings_; }

 private:
  enum class Mode { kScan, kPem, kJwt };
  struct Picked {
    Finding f;
    std::string replacement;  // empty: leave the text as it is (alert)
  };
  struct Pending {
    Finding f;
    std::uint32_t pattern;
    int priority;
  };

  Result push_slice(std::string_view text, std::string& out);
  bool scan_pending();  // scans the bytes appended since the last scan
  bool unbounded_pending() const;  // a JWT or PEM marker is among the undecided candidates
  static bool may_open_unbounded(std::string_view text);
  Result scan_mode_input(std::string_view in, std::string& out, std::string& carry);
  Result decide(bool final, std::string& out, std::string& carry);
  void release_to(std::uint64_t r, std::string& out);
  // Suppression: consumes `in` up to the end of the value; returns how many bytes it ate, or
  // in.size() when the value goes on.
  std::size_t suppress(std::string_view in, bool& ended);
  void restart_at(std::uint64_t pos);
  char byte_at(std::uint64_t abs) const { return buf_[abs - keep_]; }
  // Text at absolute offsets [from, to) (both within buf_).
  std::string_view text(std::uint64_t from, std::uint64_t to) const {
    return std::string_view(buf_).substr(from - keep_, to - from);
  }

  std::shared_ptr<const Engine> engine_;
  const Policy& policy_;
  Placeholders& placeholders_;
  FindingSink* sink_;
  std::size_t hold_back_;
  ScanStream scan_;

  Mode mode_ = Mode::kScan;
  Result result_ = Result::kOk;
  // Absolute offsets [keep_, keep_ + buf_.size()): released text kept as context (at least
  // kRetainBytes of it unless the text is shorter), then held text from base_ on. Released
  // bytes are dropped only once they outnumber the held ones, so a release never moves the
  // held text (amortized: each byte is moved at most once).
  std::string buf_;
  std::uint64_t keep_ = 0;
  std::uint64_t base_ = 0;    // first held (unreleased) byte
  std::size_t unscanned_ = 0; // the last bytes of buf_, not yet given to the scanner
  bool scanned_ = false;      // some of this text (since the last restart) was scanned
  bool quick_check_ = true;   // finish() may first check an unscanned text in one call
  static constexpr std::size_t kScanBatch = 32;
  std::uint64_t decided_ = 0; // candidates starting before this have been validated
  std::uint64_t last_end_ = 0;
  std::vector<Pending> pool_;   // validated, not yet selected
  std::vector<Picked> picked_;  // selected, not yet released
  std::uint64_t pos_ = 0;       // suppression: absolute offset of the next byte
  int jwt_dots_ = 0;
  int pem_state_ = 0, pem_run_ = 0, pem_tail_ = 0;
  Finding blocking_;
  std::uint64_t findings_ = 0;
};

}  // namespace sluice::pii
