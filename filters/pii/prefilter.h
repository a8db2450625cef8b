// A quick pass that tells which of a body's text strings could hold a finding, so that only
// those go through the TextRedactor. Most bodies hold no personal data, and a Vectorscan
// stream costs ~3,000 instructions per scan call (plus its opening and resets) whatever the
// string's length: a chat call's few short strings cost more to set up than to scan.
//
// The texts are joined, each followed by '\n', and scanned in one block-mode call of the same
// patterns (Engine::block_db(): ends only, ^ and $ at line breaks). Texts longer than
// kMaxChecked are marked without it: their scan costs more than a call's set-up, and prose
// that long nearly always holds a candidate (a number), so checking them first only doubled
// the work (pii_bench BM_RequestBody, 8 KiB strings: 410 -> 200 MB/s).
//
// Contract: every text in which the TextRedactor, given that text alone, could find anything
// is marked. A pattern's match in a text alone is a match in the joined text that ends inside
// that text: the bytes are the same, and at a text's edges \b and multi-line ^ and $ see a
// '\n' where they saw the start or end of the text. Patterns that anchor on the whole text
// make block_db() null, and then every text is marked, as when the scan fails. Marking more
// than that (a match running across a '\n' into the next text) only costs time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "filters/pii/entity.h"
#include "filters/pii/scanner.h"

namespace sluice::pii {

// For one text: false when no pattern whose entity `actions` does not turn off can match in
// `text` alone, by the same one-call block-mode scan (true when it cannot tell).
bool may_hold_finding(const Engine& engine, std::string_view text,
                      const std::vector<Action>& actions);

class JoinedTexts {
 public:
  static constexpr std::size_t kMaxChecked = 256;  // bytes


  void clear();
  void reserve(std::size_t bytes);  // of text, all told
  // Appends a text (decoded, as the redactor will see it); returns its index. `stable`: the
  // text stays valid and unchanged until clear() (a view into the body), so a long one is
  // kept as a view instead of a copy.
  std::size_t add(std::string_view text, bool stable = false);
  std::size_t size() const { return texts_.size(); }
  std::string_view text(std::size_t i) const;

  // Marks the texts where a pattern whose entity `actions` does not turn off has a match.
  void mark(const Engine& engine, const std::vector<Action>& actions);
  bool marked(std::size_t i) const { return marked_[i] != 0; }

 private:
  static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                      unsigned int flags, void* self);
  struct Entry {
    bool is_long;            // not scanned: in long_ (view == nullptr) or a view
    const char* view;
    std::size_t begin, end;  // in joined_ or long_; for a view, [0, size)
  };
  std::string joined_, long_;
  std::vector<Entry> texts_;
  std::vector<std::size_t> ends_;  // per scanned text: its end in joined_ (its '\n' follows)
  std::vector<std::size_t> ids_;   // per scanned text: its index in texts_
  std::vector<char> marked_;
  const Engine* engine_ = nullptr;
  const std::vector<Action>* actions_ = nullptr;
};

}  // namespace sluice::pii
