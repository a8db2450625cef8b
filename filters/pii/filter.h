// pii filter: keeps personal data and credentials out of what the provider receives and out of
// what the client receives, per config.h. One PiiFilter per call.
//
// Request: every text string of the body (json_text.h), decoded, checked in one pass over all
// of them (prefilter.h) and, where that finds something, redacted by TextRedactor and spliced
// back by byte span; `block` answers 400 in the provider's error shape
// (invalid_request_error, code "pii_blocked") and the upstream is never called.
// Streamed response: one TextRedactor per channel (choice / content block / tool call); text is
// held back per redactor.h and released in the same event or, at a channel's end, in a
// synthesized event just before it. `block` ends the stream with the provider's in-stream
// error event before any byte of the value. Whole response bodies: as the request.
// on_complete adds the findings (type, direction, action, count, offsets; never a value) to the
// call's event under "pii" and raises one alert per (type, direction, action).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "filters/pii/config.h"
#include "filters/pii/prefilter.h"
#include "filters/pii/redactor.h"
#include "filters/registry.h"

namespace sluice::pii {

// Counter indexes in stats().
enum Stat : std::size_t {
  kRequestScanned,
  kRequestRedacted,
  kRequestBlocked,
  kRequestAlerted,
  kResponseScanned,
  kResponseRedacted,
  kResponseBlocked,
  kResponseAlerted,
  kHeldBytesReleasedAtEnd,
  kScanErrors,
  kBodiesNotJson,
};
FilterStats* stats();

class PiiFilter : public Filter, public FindingSink {
 public:
  explicit PiiFilter(std::shared_ptr<const Config> config);
  ~PiiFilter() override;

  FilterStatus on_request(StreamContext& ctx) override;
  FilterStatus on_response_event(StreamContext& ctx, ResponseEvent& event, bool end_stream) override;
  FilterStatus on_response_body(StreamContext& ctx, std::string& body) override;
  bool wants_response_body() const override;
  bool wants_response_events() const override;
  void on_complete(StreamContext& ctx, const StreamInfo& info) override;

  // Redacts every text string of a JSON body in place; exposed for tests and the benchmark.
  // Returns kBlocked / kError without touching `body`. `rewritten` (may be null): whether
  // `body` changed.
  TextRedactor::Result redact_json(std::string& body, Direction d, bool* rewritten = nullptr);

 private:
  struct ChannelState {
    Channel channel;
    std::unique_ptr<TextRedactor> redactor;
  };
  struct Piece {  // a text string of a JSON body (redact_json)
    std::size_t begin, end;  // its token in the body
    std::size_t text;        // its index in texts_, or -1: skipped (an invalid escape)
  };
  struct Group {  // findings of one type, direction and action
    std::uint32_t entity;
    Direction direction;
    Action action;
    std::uint64_t count = 0;
    std::vector<std::array<std::uint64_t, 3>> offsets;  // (part, begin, end), capped
  };

  void record(const Finding& f) override;
  void select_actions(const Identity& id);
  TextRedactor* channel(const Channel& c);
  FilterStatus end_stream_blocked(StreamContext& ctx, const TextRedactor& r);
  bool flush(ChannelState& cs, std::string& out, StreamContext& ctx);

  std::shared_ptr<const Config> config_;
  const Actions* actions_ = nullptr;
  Policy request_policy_, response_policy_;
  Placeholders placeholders_;
  std::unique_ptr<TextRedactor> body_redactor_;
  std::vector<ChannelState> channels_;
  std::vector<Group> groups_;
  Direction recording_ = Direction::kRequest;
  std::uint64_t part_ = 0;  // request/body: index of the text string; stream: channel number
  bool blocked_ = false;
  std::string blocked_direction_;
  std::string scratch_, decoded_;
  JoinedTexts texts_;
  std::vector<Piece> pieces_;
};

}  // namespace sluice::pii

namespace sluice {
FilterFactory pii_factory();
}
