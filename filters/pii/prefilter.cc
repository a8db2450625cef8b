#include "filters/pii/prefilter.h"

#include <algorithm>
#include <climits>

namespace sluice::pii {

namespace {

struct AnyMatch {
  const Engine* engine;
  const std::vector<Action>* actions;
  bool found = false;
};

int on_any_match(unsigned int id, unsigned long long, unsigned long long, unsigned int,
                 void* ctx) {
  auto* m = static_cast<AnyMatch*>(ctx);
  const std::size_t entity = m->engine->patterns()[id].entity;
  if (entity >= m->actions->size() || (*m->actions)[entity] == Action::kOff) return 0;
  m->found = true;
  return 1;  // stop the scan
}

}  // namespace

bool may_hold_finding(const Engine& engine, std::string_view text,
                      const std::vector<Action>& actions) {
  if (text.empty()) return false;
  hs_scratch_t* scratch = engine.scratch();
  if (!engine.block_db() || !scratch || text.size() > UINT_MAX) return true;
  AnyMatch m{&engine, &actions};
  hs_error_t rc = hs_scan(engine.block_db(), text.data(), static_cast<unsigned>(text.size()), 0,
                          scratch, on_any_match, &m);
  return m.found || (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED);
}

void JoinedTexts::clear() {
  joined_.clear();
  long_.clear();
  texts_.clear();
  ends_.clear();
  ids_.clear();
  marked_.clear();
}

void JoinedTexts::reserve(std::size_t bytes) {
  joined_.reserve(bytes);
  texts_.reserve(16);
}

std::size_t JoinedTexts::add(std::string_view text, bool stable) {
  if (text.size() > kMaxChecked && stable) {
    texts_.push_back({true, text.data(), 0, text.size()});
  } else if (text.size() > kMaxChecked) {
    texts_.push_back({true, nullptr, long_.size(), long_.size() + text.size()});
    long_.append(text);
  } else {
    texts_.push_back({false, nullptr, joined_.size(), joined_.size() + text.size()});
    joined_.append(text);
    ends_.push_back(joined_.size());
    ids_.push_back(texts_.size() - 1);
    joined_.push_back('\n');
  }
  return texts_.size() - 1;
}

std::string_view JoinedTexts::text(std::size_t i) const {
  const Entry& e = texts_[i];
  if (e.view) return std::string_view(e.view, e.end);
  return std::string_view(e.is_long ? long_ : joined_).substr(e.begin, e.end - e.begin);
}

int JoinedTexts::on_match(unsigned int id, unsigned long long, unsigned long long to,
                          unsigned int, void* self) {
  auto* t = static_cast<JoinedTexts*>(self);
  const std::size_t entity = t->engine_->patterns()[id].entity;
  if (entity >= t->actions_->size() || (*t->actions_)[entity] == Action::kOff) return 0;
  // The text holding the match's last byte: the first whose end is at or after it (a match
  // whose last byte is a text's '\n' marks that text, needlessly but harmlessly).
  const std::size_t k = static_cast<std::size_t>(
      std::lower_bound(t->ends_.begin(), t->ends_.end(), static_cast<std::size_t>(to) - 1) -
      t->ends_.begin());
  if (k < t->ids_.size()) t->marked_[t->ids_[k]] = 1;
  return 0;
}

void JoinedTexts::mark(const Engine& engine, const std::vector<Action>& actions) {
  marked_.assign(texts_.size(), 0);
  for (std::size_t i = 0; i < texts_.size(); ++i) marked_[i] = texts_[i].is_long;
  if (ends_.empty()) return;
  hs_scratch_t* scratch = engine.scratch();
  if (!engine.block_db() || !scratch || joined_.size() > UINT_MAX) {
    marked_.assign(texts_.size(), 1);
    return;
  }
  engine_ = &engine;
  actions_ = &actions;
  if (hs_scan(engine.block_db(), joined_.data(), static_cast<unsigned>(joined_.size()), 0, scratch,
              on_match, this) != HS_SUCCESS)
    marked_.assign(texts_.size(), 1);  // the redactor will scan, and report a failure itself
}

}  // namespace sluice::pii
