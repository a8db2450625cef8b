#include "filters/ratelimit/filter.h"

#include <algorithm>

namespace sluice::ratelimit {

using limits::LimitCheck;
using limits::LimitKind;
using limits::Unit;

FilterStats* stats() {
  static FilterStats s("ratelimit", {SLUICE_LIMITS_COMMON_STATS});
  return &s;
}

RateLimitFilter::RateLimitFilter(std::shared_ptr<const Config> config)
    : LimitsFilter(config->limiter, ratelimit::stats(), "ratelimit"), config_(std::move(config)) {}

void RateLimitFilter::build_checks(const StreamContext& ctx, std::vector<LimitCheck>& out) {
  const std::string& model = ctx.request.model;
  std::int64_t input = std::max<std::int64_t>(0, ctx.request.estimated_input_tokens);
  std::int64_t output = 0;
  bool output_known = false;
  std::int64_t now = limits::LocalStore::now_ms();
  for (const Rule& r : config_->rules) {
    if (!r.match.matches(ctx.identity, model)) continue;
    if (!output_known) {
      output = ctx.api == ApiKind::kEmbeddings
                   ? 0
                   : limits::reserved_output_tokens(ctx.request,
                                                    limits::PriceTable::builtin().find(model),
                                                    config_->default_max_output_tokens);
      output_known = true;
    }
    std::string base = "rl:" + r.match.counter(r.name, ctx.identity, model) + ":";
    auto add = [&](LimitKind kind, Unit unit, std::int64_t limit, std::int64_t cost) {
      LimitCheck c;
      c.kind = kind;
      c.unit = unit;
      c.key = base + limits::to_string(unit);
      c.limit = limit;
      c.cost = cost;
      c.policy = r.policy;
      c.label = r.name;
      out.push_back(std::move(c));
      return &out.back();
    };
    if (r.requests_per_minute > 0) add(LimitKind::kRate, Unit::kRequests, r.requests_per_minute, 1);
    if (r.input_tokens_per_minute > 0)
      add(LimitKind::kRate, Unit::kInputTokens, r.input_tokens_per_minute, input);
    if (r.output_tokens_per_minute > 0)
      add(LimitKind::kRate, Unit::kOutputTokens, r.output_tokens_per_minute, output);
    if (r.total_tokens > 0) {
      LimitCheck* c = add(LimitKind::kQuota, Unit::kTotalTokens, r.total_tokens, input + output);
      limits::Window w = limits::window_at(r.total_tokens_window, config_->time_zone, now);
      c->window_start_ms = w.start_ms;
      c->window_end_ms = w.end_ms;
      c->next_window_end_ms = w.next_end_ms;
    }
    if (r.concurrency > 0) add(LimitKind::kQuota, Unit::kConcurrency, r.concurrency, 1);
  }
}

void RateLimitFilter::actual_use(const StreamContext& ctx, const StreamInfo& info,
                                 const limits::Hold& hold, std::vector<std::int64_t>& out) {
  const TokenUsage& u = ctx.usage;
  bool counted = u.source != TokenUsage::Source::kNone;
  std::int64_t in = counted ? u.input_tokens : 0;
  std::int64_t outp = counted ? u.output_tokens : 0;
  for (const auto& c : hold.checks) {
    switch (c.unit) {
      case Unit::kRequests: out.push_back(1); break;
      case Unit::kInputTokens: out.push_back(in); break;
      case Unit::kOutputTokens: out.push_back(outp); break;
      case Unit::kTotalTokens: out.push_back(in + outp); break;
      default: out.push_back(0); break;  // concurrency: the slot is released
    }
  }
}

namespace {

// The tightest check per kind of header, from a hold's results.
struct Facts {
  limits::HeaderFacts requests, tokens, input, output;
};

void tighten(limits::HeaderFacts& f, const LimitCheck& c, const limits::CheckResult& r) {
  if (f.limit < 0 || r.remaining < f.remaining) {
    f.limit = c.limit;
    f.remaining = r.remaining;
    f.reset_ms = r.reset_ms;
  }
}

Facts facts_of(const limits::Hold& hold) {
  Facts f;
  for (std::size_t i = 0; i < hold.checks.size() && i < hold.admission.results.size(); ++i) {
    const auto& c = hold.checks[i];
    const auto& r = hold.admission.results[i];
    switch (c.unit) {
      case Unit::kRequests: tighten(f.requests, c, r); break;
      case Unit::kInputTokens:
        tighten(f.input, c, r);
        tighten(f.tokens, c, r);
        break;
      case Unit::kOutputTokens:
        tighten(f.output, c, r);
        tighten(f.tokens, c, r);
        break;
      case Unit::kTotalTokens: tighten(f.tokens, c, r); break;
      default: break;
    }
  }
  return f;
}

}  // namespace

void RateLimitFilter::reject(StreamContext& ctx, const limits::Hold& hold) {
  const LimitCheck* failed = nullptr;
  std::int64_t retry_ms = 0;
  bool never = false;
  for (std::size_t i = 0; i < hold.checks.size(); ++i) {
    const auto& r = hold.admission.results[i];
    if (r.ok) continue;
    if (failed == nullptr) failed = &hold.checks[i];
    if (r.retry_after_ms < 0) never = true;
    retry_ms = std::max(retry_ms, r.retry_after_ms);
  }
  if (failed == nullptr) failed = &hold.checks.front();
  bool tokens = failed->unit != Unit::kRequests && failed->unit != Unit::kConcurrency;
  ctx.reply = LocalReply{};
  ctx.reply.status = 429;
  ctx.reply.type = ctx.provider == Provider::kAnthropic ? "rate_limit_error"
                                                        : (tokens ? "tokens" : "requests");
  ctx.reply.code = "rate_limit_exceeded";
  std::string what = limits::to_string(failed->unit);
  std::string per = failed->unit == Unit::kConcurrency ? " calls in flight"
                    : failed->kind == LimitKind::kRate ? " per minute"
                                                       : " in the current window";
  ctx.reply.message = "rate limit reached for " + what + " (rule \"" + failed->label +
                      "\": limit " + std::to_string(failed->limit) + per + ")" +
                      (never ? "; this request alone exceeds the limit"
                             : "; retry in " + std::to_string((retry_ms + 999) / 1000) + "s");
  ctx.reply.error_class = "filter_rejected";
  if (!never) {
    std::int64_t secs = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);
    ctx.reply.headers.emplace_back("retry-after", std::to_string(secs));
  }
  Facts f = facts_of(hold);
  limits::add_limit_headers(ctx.reply.headers, ctx.provider, f.requests, f.tokens, f.input, f.output,
                            hold.admission.now_ms);
  ctx.raise_alert("ratelimit.rejected", "warning", "ratelimit",
                  "call refused by rate limit rule " + failed->label,
                  "{\"rule\":\"" + failed->label + "\",\"unit\":\"" + what + "\",\"limit\":" +
                      std::to_string(failed->limit) + "}");
}

void RateLimitFilter::admitted(StreamContext& ctx, const limits::Hold& hold) {
  if (!config_->response_headers) return;
  Facts f = facts_of(hold);
  limits::add_limit_headers(ctx.response_headers, ctx.provider, f.requests, f.tokens, f.input,
                            f.output, hold.admission.now_ms);
}

void RateLimitFilter::settled(StreamContext& ctx, const limits::Hold& hold,
                              const std::vector<std::int64_t>& actual) {
  std::string reserved = "{", used = "{";
  for (std::size_t i = 0; i < hold.checks.size(); ++i) {
    const auto& c = hold.checks[i];
    std::string k = "\"" + c.label + "." + limits::to_string(c.unit) + "\":";
    if (i > 0) {
      reserved += ',';
      used += ',';
    }
    reserved += k + std::to_string(c.cost);
    used += k + std::to_string(i < actual.size() ? actual[i] : 0);
  }
  ctx.add_event_field("ratelimit", "{\"reservation_id\":\"" + hold.id_text + "\",\"store\":\"" +
                                       limits::to_string(hold.where) + "\",\"reserved\":" +
                                       reserved + "},\"settled\":" + used + "}}");
}

}  // namespace sluice::ratelimit

namespace sluice {

FilterFactory ratelimit_factory() {
  return FilterFactory{
      "ratelimit",
      [](const ConfigNode& section) { return ratelimit::parse_config(section); },
      [](const std::shared_ptr<const FilterConfig>& c) -> std::unique_ptr<Filter> {
        return std::make_unique<ratelimit::RateLimitFilter>(
            std::static_pointer_cast<const ratelimit::Config>(c));
      },
      [] { return ratelimit::stats(); },
      &ratelimit::config_keys,
  };
}

}  // namespace sluice
