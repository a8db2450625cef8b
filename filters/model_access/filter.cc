#include "filters/model_access/filter.h"

namespace sluice::model_access {

FilterStats* stats() {
  static FilterStats s("model_access", {"checked", "allowed", "denied", "no_model"});
  return &s;
}

FilterStatus ModelAccessFilter::on_request(StreamContext& ctx) {
  stats()->inc(kChecked);
  const Rule* rule = config_->rule_for(ctx.identity);
  if (rule == nullptr) {
    stats()->inc(kAllowed);
    return FilterStatus::kContinue;
  }
  const std::string& model = ctx.request.model;
  bool denied = false;
  if (model.empty()) {
    // A modelled call without a model cannot be checked against an allow-list, so it is
    // refused; pass-through calls without one (GET /v1/models) carry no model to check.
    denied = !rule->allow.empty() && ctx.api != ApiKind::kPassthrough;
    if (denied) stats()->inc(kNoModel);
  } else {
    for (const auto& d : rule->deny) denied = denied || glob_match(d, model);
    if (!denied && !rule->allow.empty()) {
      bool allowed = false;
      for (const auto& a : rule->allow) allowed = allowed || glob_match(a, model);
      denied = !allowed;
    }
  }
  if (!denied) {
    stats()->inc(kAllowed);
    return FilterStatus::kContinue;
  }
  stats()->inc(kDenied);
  ctx.reply.status = 403;
  ctx.reply.type = ctx.provider == Provider::kAnthropic ? "permission_error" : "invalid_request_error";
  ctx.reply.code = "model_not_allowed";
  ctx.reply.message = model.empty() ? "this route requires a model, and none was given"
                                    : "model '" + model + "' is not allowed for this caller";
  ctx.reply.error_class = "filter_rejected";
  ctx.raise_alert("model.denied", "warning", "model_access",
                  model.empty() ? "call without a model refused" : "call to a denied model refused",
                  "{}");
  return FilterStatus::kRespond;
}

}  // namespace sluice::model_access

namespace sluice {

FilterFactory model_access_factory() {
  return FilterFactory{
      "model_access",
      [](const ConfigNode& section) { return model_access::parse_config(section); },
      [](const std::shared_ptr<const FilterConfig>& c) -> std::unique_ptr<Filter> {
        return std::make_unique<model_access::ModelAccessFilter>(
            std::static_pointer_cast<const model_access::Config>(c));
      },
      [] { return model_access::stats(); },
  };
}

}  // namespace sluice
