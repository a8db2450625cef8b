#include "filters/pii/redactor.h"

#include <algorithm>
#include <cstring>

#include "filters/pii/prefilter.h"

namespace sluice::pii {
namespace {

std::vector<bool> enabled_patterns(const Engine& e, const Policy& p) {
  std::vector<bool> on;
  for (const auto& spec : e.patterns())
    on.push_back(spec.entity < p.actions.size() && p.actions[spec.entity] != Action::kOff);
  return on;
}

bool is_jwt_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '=';
}

}  // namespace

TextRedactor::TextRedactor(std::shared_ptr<const Engine> engine, const Policy& policy,
                           Placeholders& placeholders, FindingSink* sink, std::size_t hold_back,
                           bool bulk)
    : engine_(engine), policy_(policy), placeholders_(placeholders), sink_(sink),
      hold_back_(hold_back), scan_(engine, enabled_patterns(*engine, policy), bulk) {
  scan_.set_text(&buf_, &keep_);
}

void TextRedactor::reset(bool may_match) {
  restart_at(0);
  result_ = Result::kOk;
  quick_check_ = !may_match;
}

void TextRedactor::restart_at(std::uint64_t pos) {
  scan_.restart(pos);
  scan_.clear();  // matches of the text before `pos` (already decided or suppressed)
  mode_ = Mode::kScan;
  buf_.clear();
  keep_ = base_ = decided_ = last_end_ = pos;
  unscanned_ = 0;
  scanned_ = false;
  quick_check_ = true;
  pool_.clear();
  picked_.clear();
}

TextRedactor::Result TextRedactor::push(std::string_view text, std::string& out) {
  if (result_ != Result::kOk) return result_;
  // A large input goes in slices: after an unbounded value the scan restarts at its end and
  // re-reads the held text after it, so holding a whole request string would make that
  // quadratic. Large slices keep the per-slice work low; near a possible JWT or PEM opening
  // the slices are small, so the re-read is short. Slicing is free of consequences for the
  // output (any chunking gives the same result).
  constexpr std::size_t kSmallSlice = 256;
  while (!text.empty()) {
    std::size_t n = std::min(text.size(), 4 * hold_back_);
    if (n > kSmallSlice && (unbounded_pending() || may_open_unbounded(text.substr(0, n))))
      n = kSmallSlice;
    Result r = push_slice(text.substr(0, n), out);
    if (r != Result::kOk) return r;
    text.remove_prefix(n);
  }
  return Result::kOk;
}

bool TextRedactor::unbounded_pending() const {
  const auto& patterns = engine_->patterns();
  for (const Candidate& c : scan_.candidates())
    if (patterns[c.pattern].unbounded != Unbounded::kNone) return true;
  return false;
}

bool TextRedactor::may_open_unbounded(std::string_view text) {
  // 'J' is rare in prose, so looking for it first is cheaper than for "eyJ" (every 'e').
  for (const char* p = text.data(), *end = p + text.size();
       (p = static_cast<const char*>(std::memchr(p, 'J', static_cast<std::size_t>(end - p))));
       ++p) {
    if (p - text.data() >= 2 && p[-1] == 'y' && p[-2] == 'e') return true;
  }
  // "-----BEGIN": from each '-' (memchr is several times cheaper per byte than memmem here).
  for (const char* p = text.data(), *end = p + text.size();
       (p = static_cast<const char*>(std::memchr(p, '-', static_cast<std::size_t>(end - p))));
       ++p) {
    if (end - p >= 10 && std::memcmp(p, "-----BEGIN", 10) == 0) return true;
  }
  return false;
}

TextRedactor::Result TextRedactor::push_slice(std::string_view text, std::string& out) {
  std::string carry, cur;
  std::string_view in = text;
  while (true) {
    if (mode_ != Mode::kScan) {
      bool ended = false;
      std::size_t k = suppress(in, ended);
      pos_ += k;
      if (!ended) return Result::kOk;
      in.remove_prefix(k);
      restart_at(pos_);
    }
    carry.clear();
    Result r = scan_mode_input(in, out, carry);
    if (r != Result::kOk) return result_ = r;
    if (mode_ == Mode::kScan) return Result::kOk;
    // An unbounded value began: what followed its marker goes through suppression.
    cur = carry;
    in = cur;
  }
}

TextRedactor::Result TextRedactor::finish(std::string& out) {
  if (result_ != Result::kOk) return result_;
  // A text that ends before any of it was scanned (a short answer, one request string) is
  // all held: when one block-mode call finds no possible match in it, it is released as it
  // is, without opening a stream. (Held from the text's start: nothing was decided, selected
  // or released since restart_at.)
  if (mode_ == Mode::kScan && !scanned_ && quick_check_ &&
      !may_hold_finding(*engine_, text(base_, keep_ + buf_.size()), policy_.actions)) {
    release_to(keep_ + buf_.size(), out);
    unscanned_ = 0;
    return Result::kOk;
  }
  std::string carry, cur;
  while (true) {
    if (mode_ != Mode::kScan) return Result::kOk;  // the value ran to the end: all suppressed
    if (!scan_pending() || !scan_.end()) return result_ = Result::kError;
    carry.clear();
    Result r = decide(true, out, carry);
    if (r != Result::kOk) return result_ = r;
    if (mode_ == Mode::kScan) return Result::kOk;
    cur = carry;
    r = push(cur, out);
    if (r != Result::kOk) return r;
  }
}

TextRedactor::Result TextRedactor::scan_mode_input(std::string_view in, std::string& out,
                                                   std::string& carry) {
  buf_.append(in);
  unscanned_ += in.size();
  // Vectorscan's cost per call dwarfs its cost per byte for the few bytes of one SSE event, so
  // small deltas are scanned (and decided) together once kScanBatch bytes are waiting, or
  // sooner when the held text would reach the hold-back. Held text is released only after it
  // was scanned, so this delays a release by less than kScanBatch bytes and changes no output.
  // Nor is text scanned before anything could be decided: decide() decides text up to at most
  // `reach` bytes before the end (the hold-back, or in text with whitespace the reach of the
  // patterns that may hold spaces), so until the text runs that far past what is decided, a
  // scan would release nothing. An answer shorter than that is scanned once, at its end.
  const std::uint64_t end_abs = keep_ + buf_.size();
  const std::uint64_t reach =
      std::min<std::uint64_t>(hold_back_, engine_->max_len_spaced() + kContextBytes);
  if (held_bytes() < hold_back_ && (unscanned_ < kScanBatch || end_abs <= decided_ + reach))
    return Result::kOk;
  if (!scan_pending()) return Result::kError;
  return decide(false, out, carry);
}

bool TextRedactor::scan_pending() {
  if (unscanned_ == 0) return true;
  scanned_ = true;
  const std::uint64_t end = keep_ + buf_.size();
  const bool ok = scan_.scan(text(end - unscanned_, end));
  unscanned_ = 0;
  return ok;
}

TextRedactor::Result TextRedactor::decide(bool final, std::string& out, std::string& carry) {
  const std::uint64_t end_abs = keep_ + buf_.size();
  std::uint64_t safe = final ? end_abs : (end_abs > hold_back_ ? end_abs - hold_back_ : 0);
  if (!final) {
    // Earlier release: before the last whitespace (that leaves room for a validator's look
    // ahead), no match of a pattern without spaces can still be growing; and patterns with
    // spaces are shorter than the hold-back. Text before both points is decided.
    const std::uint64_t spaced = engine_->max_len_spaced() + kContextBytes;
    if (end_abs > spaced + kContextBytes + 1) {
      std::uint64_t sp = end_abs - spaced;
      std::uint64_t limit = end_abs - kContextBytes - 1;  // last whitespace may be here
      std::uint64_t from = std::max(base_, safe);
      for (std::uint64_t i = limit + 1; i-- > from;) {
        char c = byte_at(i);
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
          safe = std::max(safe, std::min(sp, i));
          break;
        }
      }
    }
  }
  safe = std::max(safe, decided_);
  const auto& patterns = engine_->patterns();

  // Candidates that start before `safe` can no longer grow: validate them.
  for (const Candidate& c : scan_.candidates()) {
    if (c.from >= safe || c.from < base_) continue;
    const PatternSpec& p = patterns[c.pattern];
    std::uint64_t to = c.to;
    if (p.right_extent) {
      std::uint64_t limit = std::min<std::uint64_t>(end_abs, c.from + p.max_len);
      if (limit > to) to += p.right_extent(text(to, limit));
    }
    std::string_view t = text(c.from, to);
    std::string_view before = text(std::max(keep_, c.from - std::min<std::uint64_t>(c.from, kContextBytes)), c.from);
    std::string_view after = text(to, std::min<std::uint64_t>(end_abs, to + kContextBytes));
    auto span = p.validate(t, before, after);
    if (!span || span->end <= span->begin) continue;
    std::string_view value = t.substr(span->begin, span->end - span->begin);
    if (policy_.allow && policy_.allow->allows(p.entity, value)) continue;
    Finding f{static_cast<std::uint32_t>(p.entity), policy_.actions[p.entity], c.from + span->begin,
              c.from + span->end};
    pool_.push_back({f, c.pattern, p.priority});
  }
  scan_.erase_before(safe);
  decided_ = safe;

  // Findings that start before `safe` cannot be displaced by any later one: select them.
  std::sort(pool_.begin(), pool_.end(), [](const Pending& a, const Pending& b) {
    if (a.f.begin != b.f.begin) return a.f.begin < b.f.begin;
    if (a.f.end != b.f.end) return a.f.end > b.f.end;
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.pattern < b.pattern;
  });
  std::size_t keep = 0;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    Pending pd = pool_[i];
    if (pd.f.begin >= safe) {
      pool_[keep++] = pd;
      continue;
    }
    if (pd.f.begin < last_end_) continue;
    ++findings_;
    if (sink_) sink_->record(pd.f);
    last_end_ = pd.f.end;
    const PatternSpec& p = patterns[pd.pattern];
    const std::string& label = policy_.catalog->labels[pd.f.entity];
    if (pd.f.action == Action::kBlock) {
      blocking_ = pd.f;
      pool_.clear();
      return Result::kBlocked;
    }
    if (p.unbounded != Unbounded::kNone && pd.f.action == Action::kRedact) {
      release_to(pd.f.begin, out);
      out += policy_.mask ? policy_.mask_text : placeholders_.next(pd.f.entity, label);
      carry.assign(buf_, pd.f.end - keep_);
      mode_ = p.unbounded == Unbounded::kPemBlock ? Mode::kPem : Mode::kJwt;
      jwt_dots_ = 1;  // the marker holds the header and its dot
      pem_state_ = pem_run_ = pem_tail_ = 0;
      pos_ = pd.f.end;
      buf_.clear();
      keep_ = base_ = pd.f.end;
      picked_.clear();
      pool_.clear();
      scan_.clear();
      return Result::kOk;
    }
    std::string rep;
    if (pd.f.action == Action::kRedact) {
      std::string_view value = text(pd.f.begin, pd.f.end);
      rep = policy_.mask ? policy_.mask_text : placeholders_.for_value(pd.f.entity, label, value);
    }
    picked_.push_back({pd.f, std::move(rep)});
  }
  pool_.resize(keep);

  // Release up to `safe` (or past it, to the end of a selected finding), but never past the
  // start of an undecided candidate, into a selected finding or into a UTF-8 character.
  std::uint64_t r = final ? end_abs : std::min(std::max(safe, last_end_), end_abs);
  if (!final) {
    for (const Candidate& c : scan_.candidates()) r = std::min(r, c.from);
    for (const Picked& p : picked_)
      if (p.f.begin < r && p.f.end > r) r = p.f.begin;
    while (r > base_ && r < end_abs && (static_cast<unsigned char>(byte_at(r)) & 0xC0) == 0x80) --r;
  }
  release_to(r, out);
  return Result::kOk;
}

void TextRedactor::release_to(std::uint64_t r, std::string& out) {
  if (r <= base_) return;
  std::uint64_t cur = base_;
  std::size_t n = 0;
  for (; n < picked_.size() && picked_[n].f.begin < r; ++n) {
    const Picked& p = picked_[n];
    out.append(text(cur, p.f.begin));
    if (p.replacement.empty()) out.append(text(p.f.begin, p.f.end));
    else out += p.replacement;
    cur = p.f.end;
  }
  picked_.erase(picked_.begin(), picked_.begin() + static_cast<std::ptrdiff_t>(n));
  if (r > cur) out.append(text(cur, r));
  base_ = r;
  // Drop released bytes beyond the context only once they outnumber the held ones.
  const std::uint64_t released = base_ - keep_;
  if (released > kRetainBytes + 4096 && released - kRetainBytes >= held_bytes()) {
    buf_.erase(0, released - kRetainBytes);
    keep_ = base_ - kRetainBytes;
  }
}

std::size_t TextRedactor::suppress(std::string_view in, bool& ended) {
  ended = false;
  if (mode_ == Mode::kJwt) {
    for (std::size_t i = 0; i < in.size(); ++i) {
      char c = in[i];
      if (is_jwt_char(c)) continue;
      if (c == '.' && jwt_dots_ < 2) {
        ++jwt_dots_;
        continue;
      }
      ended = true;
      return i;  // the first character that is not part of the token is kept
    }
    return in.size();
  }
  // PEM: up to and including the dashes that close the "-----END ... -----" line; an END line
  // that does not close within 100 bytes is not one.
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    switch (pem_state_) {
      case 0:
        if (c == '-') ++pem_run_;
        else if (c == 'E' && pem_run_ >= 5) pem_state_ = 1, pem_run_ = 0;
        else pem_run_ = 0;
        break;
      case 1:
        pem_state_ = c == 'N' ? 2 : 0;
        pem_run_ = c == '-' ? 1 : 0;
        break;
      case 2:
        pem_state_ = c == 'D' ? 3 : 0;
        pem_run_ = c == '-' ? 1 : 0;
        pem_tail_ = 0;
        break;
      case 3:
        pem_run_ = c == '-' ? pem_run_ + 1 : 0;
        if (pem_run_ == 5) {
          ended = true;
          return i + 1;
        }
        if (++pem_tail_ > 100) pem_state_ = 0, pem_run_ = 0;
        break;
    }
  }
  return in.size();
}

}  // namespace sluice::pii
