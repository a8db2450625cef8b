// budget filter: reserves a call's maximum cost (and tokens) on every matching budget before
// the call, settles the real cost after it. See config.h for the rules, the price table in
// limits_store/price_table.h for how cost is computed, limits_store/limits_filter.h for the
// reserve/settle cycle.
//
// Alerts: "budget.exhausted" when a call is refused; "budget.threshold" (details: percent 80
// or 100) when a call's reservation takes a spend budget's committed amount across 80% or
// 100%; "budget.unknown_model_price" when a model is priced with default_price.
// Event field "budget": reservation id, store, reserved and settled amounts, cost_micro_usd.
#pragma once

#include <memory>

#include "filters/budget/config.h"
#include "filters/registry.h"

namespace sluice::budget {

enum Stat : std::size_t { kUnknownModelPrice = limits::kCommonStatCount, kThresholdAlerts };

class BudgetFilter : public limits::LimitsFilter {
 public:
  explicit BudgetFilter(std::shared_ptr<const Config> config);

 protected:
  void build_checks(const StreamContext& ctx, std::vector<limits::LimitCheck>& out) override;
  void actual_use(const StreamContext& ctx, const StreamInfo& info, const limits::Hold& hold,
                  std::vector<std::int64_t>& out) override;
  void reject(StreamContext& ctx, const limits::Hold& hold) override;
  void admitted(StreamContext& ctx, const limits::Hold& hold) override;
  void settled(StreamContext& ctx, const limits::Hold& hold,
               const std::vector<std::int64_t>& actual) override;

 private:
  std::shared_ptr<const Config> config_;
  const limits::ModelPrice* price_ = nullptr;
  bool default_price_used_ = false;
  std::int64_t reserved_cost_ = 0;
  std::int64_t actual_cost_ = 0;
};

FilterStats* stats();

}  // namespace sluice::budget

namespace sluice {
FilterFactory budget_factory();
}
