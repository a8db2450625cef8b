#include "filters/budget/filter.h"

#include <algorithm>

namespace sluice::budget {

using limits::LimitCheck;
using limits::LimitKind;
using limits::Unit;

FilterStats* stats() {
  static FilterStats s("budget",
                       {SLUICE_LIMITS_COMMON_STATS, "unknown_model_price", "threshold_alerts"});
  return &s;
}

BudgetFilter::BudgetFilter(std::shared_ptr<const Config> config)
    : LimitsFilter(config->limiter, budget::stats(), "budget"), config_(std::move(config)) {}

void BudgetFilter::build_checks(const StreamContext& ctx, std::vector<LimitCheck>& out) {
  const std::string& model = ctx.request.model;
  bool priced = false;
  std::int64_t input = std::max<std::int64_t>(0, ctx.request.estimated_input_tokens);
  std::int64_t output = 0;
  std::int64_t now = limits::LocalStore::now_ms();
  for (const Rule& r : config_->rules) {
    if (!r.match.matches(ctx.identity, model)) continue;
    if (!priced) {
      price_ = config_->prices.find(model);
      if (price_ == nullptr) {
        price_ = &config_->default_price;
        default_price_used_ = true;
      }
      output = ctx.api == ApiKind::kEmbeddings
                   ? 0
                   : limits::reserved_output_tokens(ctx.request, default_price_used_ ? nullptr : price_,
                                                    config_->default_max_output_tokens);
      TokenUsage worst;
      worst.input_tokens = input;
      worst.output_tokens = output;
      reserved_cost_ = limits::cost_micro_usd(*price_, worst);
      priced = true;
    }
    std::string base = "bg:" + r.match.counter(r.name, ctx.identity, model) + ":";
    for (const Limit& l : r.limits) {
      LimitCheck c;
      c.kind = LimitKind::kQuota;
      c.unit = l.unit;
      c.key = base + limits::to_string(l.unit) + ":" + l.window_name;
      c.limit = l.amount;
      c.cost = l.unit == Unit::kSpendMicroUsd ? reserved_cost_ : input + output;
      c.policy = r.policy;
      c.label = r.name;
      limits::Window w = limits::window_at(l.window, config_->time_zone, now);
      c.window_start_ms = w.start_ms;
      c.window_end_ms = w.end_ms;
      c.next_window_end_ms = w.next_end_ms;
      out.push_back(std::move(c));
    }
  }
}

void BudgetFilter::actual_use(const StreamContext& ctx, const StreamInfo& info,
                              const limits::Hold& hold, std::vector<std::int64_t>& out) {
  const TokenUsage& u = ctx.usage;
  bool counted = u.source != TokenUsage::Source::kNone;
  actual_cost_ = counted && price_ != nullptr ? limits::cost_micro_usd(*price_, u) : 0;
  std::int64_t tokens = counted ? u.input_tokens + u.output_tokens : 0;
  for (const auto& c : hold.checks)
    out.push_back(c.unit == Unit::kSpendMicroUsd ? actual_cost_ : tokens);
}

void BudgetFilter::reject(StreamContext& ctx, const limits::Hold& hold) {
  const LimitCheck* failed = nullptr;
  const limits::CheckResult* fr = nullptr;
  for (std::size_t i = 0; i < hold.checks.size(); ++i) {
    if (hold.admission.results[i].ok) continue;
    failed = &hold.checks[i];
    fr = &hold.admission.results[i];
    break;
  }
  if (failed == nullptr) return;
  bool spend = failed->unit == Unit::kSpendMicroUsd;
  auto usd = [](std::int64_t micro) {
    char b[40];
    std::snprintf(b, sizeof b, "%lld.%06lld", static_cast<long long>(micro / 1'000'000),
                  static_cast<long long>(micro % 1'000'000));
    return std::string(b);
  };
  std::string window = failed->key.substr(failed->key.rfind(':') + 1);
  ctx.reply = LocalReply{};
  ctx.reply.status = 429;
  ctx.reply.type = ctx.provider == Provider::kAnthropic ? "rate_limit_error" : "insufficient_quota";
  ctx.reply.code = "insufficient_quota";
  ctx.reply.message =
      spend ? "budget \"" + failed->label + "\" (" + window + ") cannot cover this call: USD " +
                  usd(fr->remaining) + " of " + usd(failed->limit) + " remain, the call may cost up to USD " +
                  usd(failed->cost)
            : "token budget \"" + failed->label + "\" (" + window + ") cannot cover this call: " +
                  std::to_string(fr->remaining) + " of " + std::to_string(failed->limit) +
                  " tokens remain, the call may use up to " + std::to_string(failed->cost);
  ctx.reply.error_class = "filter_rejected";
  if (fr->retry_after_ms > 0)
    ctx.reply.headers.emplace_back("retry-after", std::to_string((fr->retry_after_ms + 999) / 1000));
  ctx.raise_alert("budget.exhausted", "warning", "budget",
                  "call refused: budget " + failed->label + " (" + window + ") exhausted",
                  "{\"rule\":\"" + failed->label + "\",\"window\":\"" + window + "\",\"unit\":\"" +
                      limits::to_string(failed->unit) + "\",\"limit\":" +
                      std::to_string(failed->limit) + ",\"remaining\":" +
                      std::to_string(fr->remaining) + "}");
}

void BudgetFilter::admitted(StreamContext& ctx, const limits::Hold& hold) {
  if (default_price_used_ && !ctx.request.model.empty()) {
    stats()->inc(kUnknownModelPrice);
    ctx.raise_alert("budget.unknown_model_price", "warning", "budget",
                    "model has no price in the table; priced with default_price",
                    "{\"model\":\"" + std::string(ctx.request.model.size() <= 128 &&
                                                          ctx.request.model.find_first_of("\"\\") ==
                                                              std::string::npos
                                                      ? ctx.request.model
                                                      : "(unprintable)") +
                        "\"}");
  }
  for (std::size_t i = 0; i < hold.checks.size(); ++i) {
    const auto& c = hold.checks[i];
    if (c.unit != Unit::kSpendMicroUsd || c.limit <= 0) continue;
    std::int64_t before = hold.admission.results[i].committed_before;
    std::int64_t after = before + c.cost;
    for (int pct : {100, 80}) {
      std::int64_t mark = c.limit * pct / 100;
      if (before < mark && after >= mark) {
        stats()->inc(kThresholdAlerts);
        ctx.raise_alert("budget.threshold", pct == 100 ? "critical" : "warning", "budget",
                        "budget " + c.label + " reached " + std::to_string(pct) + "% (committed spend)",
                        "{\"rule\":\"" + c.label + "\",\"percent\":" + std::to_string(pct) +
                            ",\"limit_micro_usd\":" + std::to_string(c.limit) +
                            ",\"committed_micro_usd\":" + std::to_string(after) + "}");
        break;
      }
    }
  }
}

void BudgetFilter::settled(StreamContext& ctx, const limits::Hold& hold,
                           const std::vector<std::int64_t>& actual) {
  std::int64_t reserved_tokens = 0, settled_tokens = 0;
  for (std::size_t i = 0; i < hold.checks.size(); ++i) {
    if (hold.checks[i].unit != Unit::kTotalTokens) continue;
    reserved_tokens = hold.checks[i].cost;
    settled_tokens = i < actual.size() ? actual[i] : 0;
  }
  ctx.cost_micro_usd = actual_cost_;  // the event's top-level cost_micro_usd
  ctx.add_event_field(
      "budget", "{\"reservation_id\":\"" + hold.id_text + "\",\"store\":\"" +
                    limits::to_string(hold.where) + "\",\"reserved_micro_usd\":" +
                    std::to_string(reserved_cost_) + ",\"cost_micro_usd\":" +
                    std::to_string(actual_cost_) + ",\"reserved_tokens\":" +
                    std::to_string(reserved_tokens) + ",\"settled_tokens\":" +
                    std::to_string(settled_tokens) + ",\"default_price\":" +
                    (default_price_used_ ? "true" : "false") + "}");
}

}  // namespace sluice::budget

namespace sluice {

FilterFactory budget_factory() {
  return FilterFactory{
      "budget",
      [](const ConfigNode& section) { return budget::parse_config(section); },
      [](const std::shared_ptr<const FilterConfig>& c) -> std::unique_ptr<Filter> {
        return std::make_unique<budget::BudgetFilter>(
            std::static_pointer_cast<const budget::Config>(c));
      },
      [] { return budget::stats(); },
      &budget::config_keys,
  };
}

}  // namespace sluice
