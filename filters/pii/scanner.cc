#include "filters/pii/scanner.h"

#include <algorithm>
#include <array>
#include <atomic>

namespace sluice::pii {
namespace {

std::atomic<std::uint64_t> g_generation{0};

// One scratch per thread, shared by every database this thread scans with: hs_alloc_scratch
// grows it to fit and never shrinks it, so a scratch fitted for an engine stays fitted. The
// engines it was fitted for are remembered (the last few): hs_alloc_scratch costs ~230,000
// instructions (callgrind) even when the scratch already fits, so it must stay off the
// per-call path also when calls alternate between engines (routes with their own pii config).
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::array<std::uint64_t, 8> fitted{};  // generations; 0 = empty slot
  std::size_t next = 0;
  ~ThreadScratch() {
    if (scratch) hs_free_scratch(scratch);
  }
};
thread_local ThreadScratch t_scratch;

// A joined text changes what these mean for one of its pieces (see block_db()): \A, \z and
// \Z, and a flag group that turns multi-line off, as in "(?-m)" or "(?i-m:".
bool anchors_whole_text(std::string_view regex) {
  for (std::size_t i = 0; i + 1 < regex.size(); ++i) {
    if (regex[i] == '\\') {
      char c = regex[i + 1];
      if (c == 'A' || c == 'z' || c == 'Z') return true;
      ++i;  // an escaped character, whatever it is
    } else if (regex[i] == '(' && regex[i + 1] == '?') {
      std::size_t j = regex.find_first_not_of("imsx", i + 2);
      if (j != std::string_view::npos && regex[j] == '-') return true;
    }
  }
  return false;
}

}  // namespace

std::shared_ptr<const Engine> Engine::build(std::vector<PatternSpec> patterns, std::string& error) {
  std::shared_ptr<Engine> e(new Engine());
  e->patterns_ = std::move(patterns);
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (std::size_t i = 0; i < e->patterns_.size(); ++i) {
    const auto& p = e->patterns_[i];
    exprs.push_back(p.regex.c_str());
    // SOM_LEFTMOST: the redactor needs where a match starts; Vectorscan otherwise reports
    // only ends. Patterns that find their start from the end in C++ go without it: tracking
    // a start at every digit was a fifth of the scan on PII-dense text. ALLOWEMPTY is never
    // set: an empty match is never a finding.
    flags.push_back((p.start_from_end ? 0u : HS_FLAG_SOM_LEFTMOST) |
                    (p.caseless ? HS_FLAG_CASELESS : 0u));
    ids.push_back(static_cast<unsigned>(i));
    e->max_len_ = std::max(e->max_len_, p.max_len);
    const bool spaced = i >= builtin_patterns().size() || p.regex.find(' ') != std::string::npos ||
                        p.regex.find("\\s") != std::string::npos;
    if (spaced) e->max_len_spaced_ = std::max(e->max_len_spaced_, p.max_len);
  }
  hs_compile_error_t* err = nullptr;
  hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                   static_cast<unsigned>(exprs.size()),
                                   HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE, nullptr, &e->db_, &err);
  if (rc != HS_SUCCESS) {
    error = err ? std::string(err->message) : "vectorscan compile failed";
    if (err && err->expression >= 0 && static_cast<std::size_t>(err->expression) < e->patterns_.size())
      error = "pattern " + e->patterns_[err->expression].regex + ": " + error;
    if (err) hs_free_compile_error(err);
    return nullptr;
  }
  hs_stream_size(e->db_, &e->stream_size_);

  const std::vector<unsigned> stream_flags = flags;
  bool joinable = true;
  for (const auto& p : e->patterns_) joinable = joinable && !anchors_whole_text(p.regex);
  if (joinable) {
    for (auto& f : flags) f = (f & HS_FLAG_CASELESS) | HS_FLAG_MULTILINE;
    rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                          HS_MODE_BLOCK, nullptr, &e->block_db_, &err);
    if (rc != HS_SUCCESS) {
      // Every pattern compiled in streaming mode; a block-mode failure only costs the shortcut.
      if (err) hs_free_compile_error(err);
      e->block_db_ = nullptr;
    }
  }
  // The split for bodies (bulk_dbs()): numbers apart from the rest. Same flags and ids.
  std::vector<const char*> part_exprs[2];
  std::vector<unsigned> part_flags[2], part_ids[2];
  for (std::size_t i = 0; i < e->patterns_.size(); ++i) {
    const auto entity = static_cast<Entity>(e->patterns_[i].entity);
    const bool number = entity == Entity::kPhone || entity == Entity::kCreditCard ||
                        entity == Entity::kIban || entity == Entity::kUsSsn ||
                        entity == Entity::kIpv4;
    part_exprs[number].push_back(exprs[i]);
    part_flags[number].push_back(stream_flags[i]);
    part_ids[number].push_back(ids[i]);
  }
  if (!part_exprs[0].empty() && !part_exprs[1].empty()) {
    for (int k = 0; k < 2; ++k) {
      hs_database_t* db = nullptr;
      rc = hs_compile_multi(part_exprs[k].data(), part_flags[k].data(), part_ids[k].data(),
                            static_cast<unsigned>(part_exprs[k].size()),
                            HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE, nullptr, &db, &err);
      if (rc != HS_SUCCESS) {
        if (err) hs_free_compile_error(err);
        for (auto* d : e->bulk_dbs_) hs_free_database(d);
        e->bulk_dbs_.clear();
        break;
      }
      e->bulk_dbs_.push_back(db);
    }
  }
  e->generation_ = g_generation.fetch_add(1, std::memory_order_relaxed) + 1;
  return e;
}

Engine::~Engine() {
  if (db_) hs_free_database(db_);
  if (block_db_) hs_free_database(block_db_);
  for (auto* d : bulk_dbs_) hs_free_database(d);
}

hs_scratch_t* Engine::scratch() const {
  ThreadScratch& t = t_scratch;
  if (t.scratch != nullptr &&
      std::find(t.fitted.begin(), t.fitted.end(), generation_) != t.fitted.end())
    return t.scratch;
  if (hs_alloc_scratch(db_, &t.scratch) != HS_SUCCESS) return nullptr;
  if (block_db_ && hs_alloc_scratch(block_db_, &t.scratch) != HS_SUCCESS) return nullptr;
  for (auto* d : bulk_dbs_)
    if (hs_alloc_scratch(d, &t.scratch) != HS_SUCCESS) return nullptr;
  t.fitted[t.next] = generation_;
  t.next = (t.next + 1) % t.fitted.size();
  return t.scratch;
}

ScanStream::ScanStream(std::shared_ptr<const Engine> engine, std::vector<bool> enabled, bool bulk)
    : engine_(std::move(engine)), enabled_(std::move(enabled)),
      last_(engine_->patterns().size(), -1) {
  if (bulk && !engine_->bulk_dbs().empty()) {
    dbs_.assign(engine_->bulk_dbs().begin(), engine_->bulk_dbs().end());
  } else {
    dbs_.push_back(engine_->db());
  }
  streams_.assign(dbs_.size(), nullptr);
}

ScanStream::~ScanStream() {
  for (auto* st : streams_)
    if (st) hs_close_stream(st, engine_->scratch(), nullptr, nullptr);
}

int ScanStream::on_match(unsigned int id, unsigned long long from, unsigned long long to,
                         unsigned int, void* ctx) {
  auto* s = static_cast<ScanStream*>(ctx);
  if (!s->enabled_[id]) return 0;
  const PatternSpec& p = s->engine_->patterns()[id];
  if (p.start_from_end) {
    // Reported without a start (from is 0): read it from the text before the end. Text no
    // longer held belongs to a stream being reset after a suppressed value, whose candidates
    // the owner drops (TextRedactor::restart_at).
    if (!s->text_ || s->base_ + to < *s->text_base_) return 0;
    const std::size_t end = static_cast<std::size_t>(s->base_ + to - *s->text_base_);
    if (end > s->text_->size()) return 0;
    const std::size_t w = std::min<std::size_t>(end, std::size_t{p.max_len} + 1);
    // The text is cut only at its start: it keeps kRetainBytes (> max_len) before what the
    // scan has not decided.
    const bool at_start = end == w;
    const std::string_view before = std::string_view(*s->text_).substr(end - w, w);
    from = to - p.start_from_end(before, at_start);  // 0 (none): an empty match, dropped below
  }
  if (to - from > p.max_len || to == from) return 0;
  std::uint64_t f = s->base_ + from, t = s->base_ + to;
  if (p.left_extent && s->text_) {
    if (f < *s->text_base_) return 0;
    std::size_t off = static_cast<std::size_t>(f - *s->text_base_);
    std::size_t w = std::min<std::size_t>({off, std::size_t{p.max_len}, kRetainBytes});
    std::size_t n = p.left_extent(std::string_view(*s->text_).substr(off - w, w));
    if (n == kTooLong || t - (f - n) > p.max_len) return 0;
    f -= n;
  }
  std::int64_t li = s->last_[id];
  if (li >= 0 && static_cast<std::size_t>(li) < s->candidates_.size() &&
      s->candidates_[li].pattern == id && s->candidates_[li].from == f) {
    s->candidates_[li].to = t;  // same start, later end: keep the longest
    return 0;
  }
  s->last_[id] = static_cast<std::int64_t>(s->candidates_.size());
  s->candidates_.push_back({id, f, t});
  return 0;
}

bool ScanStream::scan(std::string_view data) {
  if (data.empty()) return true;
  hs_scratch_t* scratch = engine_->scratch();
  if (!scratch) return false;
  // Vectorscan takes at most 4 GiB per call; SSE events and request strings are far smaller
  // (bounded by the proxy's body and event caps), but a loop costs nothing.
  while (!data.empty()) {
    unsigned n = static_cast<unsigned>(std::min<std::size_t>(data.size(), 1u << 30));
    for (std::size_t k = 0; k < dbs_.size(); ++k) {
      // Opened on the first bytes: many texts are decided without a stream (TextRedactor::finish).
      if (!streams_[k] && hs_open_stream(dbs_[k], 0, &streams_[k]) != HS_SUCCESS) {
        streams_[k] = nullptr;
        return false;
      }
      if (hs_scan_stream(streams_[k], data.data(), n, 0, scratch, on_match, this) != HS_SUCCESS)
        return false;
    }
    fed_ += n;
    data.remove_prefix(n);
  }
  return true;
}

bool ScanStream::restart(std::uint64_t base) {
  if (fed_ == 0) {
    // Nothing was fed since the last reset: no match can end here and the state is fresh
    // (a request body's strings are each ended and then reset).
    base_ = base;
    std::fill(last_.begin(), last_.end(), -1);
    return true;
  }
  hs_scratch_t* scratch = engine_->scratch();
  if (!scratch) return false;
  // Matches that end at the old text's end are reported before the reset; the owner decides
  // whether it still wants them.
  bool ok = true;
  for (auto* st : streams_)
    ok = ok && st != nullptr && hs_reset_stream(st, 0, scratch, on_match, this) == HS_SUCCESS;
  base_ = base;
  fed_ = 0;
  std::fill(last_.begin(), last_.end(), -1);
  return ok;
}

bool ScanStream::end() { return restart(offset()); }

void ScanStream::erase_before(std::uint64_t offset) {
  std::size_t w = 0;
  for (std::size_t r = 0; r < candidates_.size(); ++r)
    if (candidates_[r].from >= offset) candidates_[w++] = candidates_[r];
  candidates_.resize(w);
  std::fill(last_.begin(), last_.end(), -1);
  for (std::size_t i = 0; i < candidates_.size(); ++i)
    last_[candidates_[i].pattern] = static_cast<std::int64_t>(i);
}

void ScanStream::clear() {
  candidates_.clear();
  std::fill(last_.begin(), last_.end(), -1);
}

}  // namespace sluice::pii
