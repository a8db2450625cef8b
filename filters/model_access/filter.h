// model_access filter: refuses calls to models the caller's identity may not use.
// Request phase only; see config.h for the rules and the answer it gives.
#pragma once

#include <memory>

#include "filters/model_access/config.h"
#include "filters/registry.h"

namespace sluice::model_access {

// Counter indexes in stats().
enum Stat : std::size_t { kChecked, kAllowed, kDenied, kNoModel };

class ModelAccessFilter : public Filter {
 public:
  explicit ModelAccessFilter(std::shared_ptr<const Config> config) : config_(std::move(config)) {}
  FilterStatus on_request(StreamContext& ctx) override;

 private:
  std::shared_ptr<const Config> config_;
};

FilterStats* stats();

}  // namespace sluice::model_access

namespace sluice {
FilterFactory model_access_factory();
}
