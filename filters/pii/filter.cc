#include "filters/pii/filter.h"

#include <algorithm>

#include "filters/pii/json_text.h"
#include "filters/pii/prefilter.h"

namespace sluice::pii {
namespace {

// Offsets per (type, direction, action) kept for the event; the count is always exact.
constexpr std::size_t kMaxOffsetsPerGroup = 16;

bool looks_like_json_object(std::string_view body) {
  std::size_t i = body.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && body[i] == '{';
}

Policy make_policy(const Config& c, const std::vector<Action>& actions, Direction d) {
  Policy p;
  p.direction = d;
  p.actions = actions;
  p.catalog = &c.catalog;
  p.allow = &c.allow;
  p.mask = c.mask;
  p.mask_text = c.mask_text;
  return p;
}

}  // namespace

FilterStats* stats() {
  static FilterStats s("pii", {"request.scanned", "request.redacted", "request.blocked",
                               "request.alerted", "response.scanned", "response.redacted",
                               "response.blocked", "response.alerted",
                               "response.held_bytes_released_at_end", "scan_errors",
                               "bodies_not_json"});
  return &s;
}

PiiFilter::PiiFilter(std::shared_ptr<const Config> config) : config_(std::move(config)) {
  select_actions(Identity{});
}

PiiFilter::~PiiFilter() = default;

void PiiFilter::select_actions(const Identity& id) {
  actions_ = &config_->actions_for(id);
  request_policy_ = make_policy(*config_, actions_->request, Direction::kRequest);
  response_policy_ = make_policy(*config_, actions_->response, Direction::kResponse);
}

void PiiFilter::record(const Finding& f) {
  Stat s = recording_ == Direction::kRequest
               ? (f.action == Action::kBlock    ? kRequestBlocked
                  : f.action == Action::kRedact ? kRequestRedacted
                                                : kRequestAlerted)
               : (f.action == Action::kBlock    ? kResponseBlocked
                  : f.action == Action::kRedact ? kResponseRedacted
                                                : kResponseAlerted);
  stats()->inc(s);
  for (auto& g : groups_) {
    if (g.entity == f.entity && g.direction == recording_ && g.action == f.action) {
      ++g.count;
      if (g.offsets.size() < kMaxOffsetsPerGroup) g.offsets.push_back({part_, f.begin, f.end});
      return;
    }
  }
  groups_.push_back({f.entity, recording_, f.action, 1, {{part_, f.begin, f.end}}});
}

TextRedactor::Result PiiFilter::redact_json(std::string& body, Direction d, bool* rewritten) {
  if (rewritten) *rewritten = false;
  recording_ = d;
  const Policy& policy = d == Direction::kRequest ? request_policy_ : response_policy_;
  // First every text string, decoded; then one scan over all of them (prefilter.h); then the
  // redactor on those that may hold a finding. A string with an invalid escape is not text
  // the provider would read as such (the JSON parser upstream rejects it): it is skipped.
  constexpr std::size_t kSkipped = static_cast<std::size_t>(-1);
  std::vector<Piece>& pieces = pieces_;
  pieces.clear();
  texts_.clear();
  texts_.reserve(std::min<std::size_t>(body.size(), 16 << 10));  // only short strings are copied
  bool walked = for_each_text_string(body, [&](const JsonString& s) {
    if (s.raw.find('\\') == std::string_view::npos) {
      pieces.push_back({s.begin, s.end, texts_.add(s.raw, /*stable=*/true)});  // `body` holds it
      return;
    }
    if (!json_unescape(s.raw, decoded_)) {
      pieces.push_back({s.begin, s.end, kSkipped});
      return;
    }
    pieces.push_back({s.begin, s.end, texts_.add(decoded_)});
  });
  texts_.mark(*config_->engine, policy.actions);

  struct Edit {
    std::size_t begin, end;
    std::string token;
  };
  std::vector<Edit> edits;
  std::unique_ptr<TextRedactor> r;  // built for the first string that needs it
  TextRedactor::Result res = TextRedactor::Result::kOk;
  for (std::size_t part = 0; part < pieces.size() && res == TextRedactor::Result::kOk; ++part) {
    const Piece& p = pieces[part];
    if (p.text == kSkipped || !texts_.marked(p.text)) continue;
    if (!r)
      r = std::make_unique<TextRedactor>(config_->engine, policy, placeholders_, this,
                                         config_->hold_back, /*bulk=*/true);
    part_ = part;
    const std::string_view text = texts_.text(p.text);
    std::uint64_t before = r->findings();
    r->reset(/*may_match=*/true);
    scratch_.clear();
    res = r->push(text, scratch_);
    if (res == TextRedactor::Result::kOk) res = r->finish(scratch_);
    if (res != TextRedactor::Result::kOk || r->findings() == before || scratch_ == text) continue;
    Edit e{p.begin, p.end, "\""};
    json_escape_append(e.token, scratch_);
    e.token.push_back('"');
    edits.push_back(std::move(e));
  }
  if (!walked) stats()->inc(kBodiesNotJson);
  if (res == TextRedactor::Result::kError) stats()->inc(kScanErrors);
  if (res != TextRedactor::Result::kOk || edits.empty()) return res;
  std::string out;
  out.reserve(body.size() + edits.size() * 16);
  std::size_t cur = 0;
  for (const auto& e : edits) {
    out.append(body, cur, e.begin - cur);
    out += e.token;
    cur = e.end;
  }
  out.append(body, cur, std::string::npos);
  body = std::move(out);
  if (rewritten) *rewritten = true;  // an edit exists only where the decoded text changed
  return res;
}

FilterStatus PiiFilter::on_request(StreamContext& ctx) {
  select_actions(ctx.identity);
  // Pass-through bodies (file uploads, batches) are not JSON text this filter can model.
  if (ctx.api == ApiKind::kPassthrough || !actions_->any(Direction::kRequest) ||
      !looks_like_json_object(ctx.body))
    return FilterStatus::kContinue;
  stats()->inc(kRequestScanned);
  bool rewritten = false;
  TextRedactor::Result res = redact_json(ctx.body, Direction::kRequest, &rewritten);
  if (res == TextRedactor::Result::kOk) {
    if (rewritten) ctx.body_rewritten = true;
    return FilterStatus::kContinue;
  }
  blocked_ = true;
  blocked_direction_ = "request";
  const bool scan_failed = res == TextRedactor::Result::kError;
  ctx.reply.status = scan_failed ? 500 : 400;
  ctx.reply.type = scan_failed ? (ctx.provider == Provider::kAnthropic ? "api_error" : "server_error")
                               : "invalid_request_error";
  ctx.reply.code = scan_failed ? "pii_scan_failed" : "pii_blocked";
  ctx.reply.message = scan_failed ? "the request could not be checked for sensitive data"
                                  : "the request contains sensitive data (" +
                                        config_->catalog.names[groups_.back().entity] +
                                        ") that this route does not allow";
  ctx.reply.error_class = "filter_rejected";
  return FilterStatus::kRespond;
}

bool PiiFilter::wants_response_body() const { return actions_->any(Direction::kResponse); }
bool PiiFilter::wants_response_events() const { return actions_->any(Direction::kResponse); }

TextRedactor* PiiFilter::channel(const Channel& c) {
  for (auto& cs : channels_)
    if (cs.channel == c) return cs.redactor.get();
  if (channels_.empty()) stats()->inc(kResponseScanned);
  channels_.push_back({c, std::make_unique<TextRedactor>(config_->engine, response_policy_,
                                                         placeholders_, this, config_->hold_back)});
  return channels_.back().redactor.get();
}

FilterStatus PiiFilter::end_stream_blocked(StreamContext& ctx, const TextRedactor& r) {
  blocked_ = true;
  blocked_direction_ = "response";
  const bool scan_failed = !r.blocked();
  if (scan_failed) stats()->inc(kScanErrors);
  ctx.stream_end.mode = StreamEnd::Mode::kError;
  LocalReply& e = ctx.stream_end.error;
  e.status = scan_failed ? 500 : 400;
  e.type = ctx.provider == Provider::kAnthropic ? "api_error"
           : scan_failed                        ? "server_error"
                                                : "invalid_request_error";
  e.code = scan_failed ? "pii_scan_failed" : "pii_blocked";
  e.message = scan_failed ? "the response could not be checked for sensitive data"
                          : "the response contained sensitive data (" +
                                config_->catalog.names[r.blocking_finding().entity] +
                                ") and was stopped";
  e.error_class = "filter_rejected";
  return FilterStatus::kEndStream;
}

// Releases everything a channel still holds; false when that text held a blocked value.
bool PiiFilter::flush(ChannelState& cs, std::string& out, StreamContext& ctx) {
  if (!cs.redactor) return true;
  part_ = static_cast<std::uint64_t>(&cs - channels_.data());
  std::size_t held = cs.redactor->held_bytes();
  if (cs.redactor->finish(out) != TextRedactor::Result::kOk) return false;
  stats()->inc(kHeldBytesReleasedAtEnd, held);
  return true;
}

FilterStatus PiiFilter::on_response_event(StreamContext& ctx, ResponseEvent& ev, bool end_stream) {
  if (blocked_) return FilterStatus::kContinue;
  recording_ = Direction::kResponse;
  for (auto& d : ev.deltas) {
    TextRedactor* r = channel(d.channel);
    part_ = static_cast<std::uint64_t>(channels_.size() - 1);
    for (std::size_t i = 0; i < channels_.size(); ++i)
      if (channels_[i].redactor.get() == r) part_ = i;
    scratch_.clear();
    if (r->push(d.text, scratch_) != TextRedactor::Result::kOk) return end_stream_blocked(ctx, *r);
    if (scratch_ != d.text) {
      d.text.swap(scratch_);
      d.modified = true;
    }
  }
  // A channel that ends releases what it held before its end: in its own delta when this
  // event carries one, else in a synthesized event just before this one. The stream's last
  // event (and the end-of-stream call) ends every channel still open.
  auto close = [&](ChannelState& cs) -> bool {
    if (!cs.redactor) return true;
    std::string out;
    if (!flush(cs, out, ctx)) return false;
    cs.redactor.reset();
    if (out.empty()) return true;
    for (auto& d : ev.deltas) {
      if (d.channel == cs.channel) {
        d.text += out;
        d.modified = true;
        return true;
      }
    }
    ev.emit_before.push_back({cs.channel, std::move(out), true});
    return true;
  };
  for (const auto& c : ev.closing) {
    for (auto& cs : channels_) {
      if (cs.channel == c && cs.redactor) {
        TextRedactor* r = cs.redactor.get();
        if (!close(cs)) return end_stream_blocked(ctx, *r);
      }
    }
  }
  if (ev.terminal || end_stream) {
    for (auto& cs : channels_) {
      if (!cs.redactor) continue;
      TextRedactor* r = cs.redactor.get();
      if (!r->blocked()) {
        std::string out;
        if (!flush(cs, out, ctx)) return end_stream_blocked(ctx, *r);
        if (!out.empty()) ev.emit_before.push_back({cs.channel, std::move(out), true});
        cs.redactor.reset();
      }
    }
  }
  // An event that carried only text, all of it held back, is left out rather than sent with
  // empty text: the text goes out in a later event either way.
  if (ev.only_text && !ev.deltas.empty() && !ev.terminal && !end_stream && ev.closing.empty() &&
      std::all_of(ev.deltas.begin(), ev.deltas.end(),
                  [](const TextDelta& d) { return d.modified && d.text.empty(); }))
    ev.drop = true;
  return FilterStatus::kContinue;
}

FilterStatus PiiFilter::on_response_body(StreamContext& ctx, std::string& body) {
  if (!looks_like_json_object(body)) return FilterStatus::kContinue;
  stats()->inc(kResponseScanned);
  TextRedactor::Result res = redact_json(body, Direction::kResponse);
  if (res == TextRedactor::Result::kOk) return FilterStatus::kContinue;
  // Blocked (or unscannable): the client must not get the value, whatever the caller does with
  // the status. Every finding, blocked ones included, is redacted in the body, and ctx.reply
  // holds the provider-shaped error for a caller that answers with it.
  blocked_ = true;
  blocked_direction_ = "response";
  Policy strict = response_policy_;
  for (auto& a : strict.actions)
    if (a == Action::kBlock) a = Action::kRedact;
  std::swap(strict, response_policy_);
  std::vector<Group> saved = groups_;
  if (redact_json(body, Direction::kResponse) != TextRedactor::Result::kOk) body = "{}";
  groups_ = std::move(saved);
  std::swap(strict, response_policy_);
  const bool scan_failed = res == TextRedactor::Result::kError;
  std::string entity;
  for (const Group& g : groups_)
    if (g.direction == Direction::kResponse && g.action == Action::kBlock)
      entity = config_->catalog.names[g.entity];
  ctx.reply.status = scan_failed ? 500 : 400;
  ctx.reply.type = ctx.provider == Provider::kAnthropic ? "api_error"
                   : scan_failed                        ? "server_error"
                                                        : "invalid_request_error";
  ctx.reply.code = scan_failed ? "pii_scan_failed" : "pii_blocked";
  ctx.reply.message = scan_failed ? "the response could not be checked for sensitive data"
                                  : "the response contained sensitive data (" + entity +
                                        ") and was withheld";
  ctx.reply.error_class = "filter_rejected";
  return FilterStatus::kRespond;
}

void PiiFilter::on_complete(StreamContext& ctx, const StreamInfo&) {
  if (groups_.empty() && !blocked_) return;
  std::string j = "{\"findings\":[";
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const Group& g = groups_[i];
    if (i) j += ',';
    j += "{\"type\":\"" + config_->catalog.names[g.entity] + "\",\"direction\":\"" +
         to_string(g.direction) + "\",\"action\":\"" + to_string(g.action) +
         "\",\"count\":" + std::to_string(g.count) + ",\"offsets\":[";
    for (std::size_t k = 0; k < g.offsets.size(); ++k) {
      if (k) j += ',';
      j += "{\"part\":" + std::to_string(g.offsets[k][0]) + ",\"start\":" +
           std::to_string(g.offsets[k][1]) + ",\"end\":" + std::to_string(g.offsets[k][2]) + "}";
    }
    j += "]}";
  }
  j += "],\"blocked\":";
  j += blocked_direction_.empty() ? "null" : "\"" + blocked_direction_ + "\"";
  j += "}";
  ctx.add_event_field("pii", std::move(j));
  for (const Group& g : groups_) {
    const std::string& name = config_->catalog.names[g.entity];
    const char* verb = g.action == Action::kBlock    ? "blocked"
                       : g.action == Action::kRedact ? "redacted"
                                                     : "detected";
    std::string details = "{\"entity\":\"" + name + "\",\"direction\":\"" +
                          to_string(g.direction) + "\",\"action\":\"" + to_string(g.action) +
                          "\",\"count\":" + std::to_string(g.count) + "}";
    ctx.raise_alert(std::string("pii.") + verb,
                    g.action == Action::kBlock ? "critical" : "warning", "pii",
                    name + " " + verb + " in the " + to_string(g.direction) + " (" +
                        std::to_string(g.count) + ")",
                    std::move(details));
  }
}

}  // namespace sluice::pii

namespace sluice {

FilterFactory pii_factory() {
  return FilterFactory{
      "pii",
      [](const ConfigNode& section) { return pii::parse_config(section); },
      [](const std::shared_ptr<const FilterConfig>& c) -> std::unique_ptr<Filter> {
        return std::make_unique<pii::PiiFilter>(std::static_pointer_cast<const pii::Config>(c));
      },
      [] { return pii::stats(); },
      &pii::config_keys,
  };
}

}  // namespace sluice
