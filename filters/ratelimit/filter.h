// ratelimit filter: admits a call only when every matching rule's limits have room, reserving
// atomically across all of them; settles with the real usage. See config.h for the rules and
// limits_store/limits_filter.h for the reserve/settle cycle.
#pragma once

#include <memory>

#include "filters/ratelimit/config.h"
#include "filters/registry.h"

namespace sluice::ratelimit {

class RateLimitFilter : public limits::LimitsFilter {
 public:
  explicit RateLimitFilter(std::shared_ptr<const Config> config);

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
};

FilterStats* stats();

}  // namespace sluice::ratelimit

namespace sluice {
FilterFactory ratelimit_factory();
}
