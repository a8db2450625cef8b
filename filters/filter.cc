#include "filters/filter.h"

#include <boost/asio/this_coro.hpp>

namespace sluice {

const char* to_string(ApiKind k) {
  switch (k) {
    case ApiKind::kChatCompletions: return "chat.completions";
    case ApiKind::kResponses: return "responses";
    case ApiKind::kEmbeddings: return "embeddings";
    case ApiKind::kMessages: return "messages";
    case ApiKind::kPassthrough: return "passthrough";
  }
  return "unknown";
}

void StreamContext::raise_alert(std::string type, std::string severity, std::string source,
                                std::string message, std::string details_json) {
  AlertEvent a;
  a.type = std::move(type);
  a.severity = std::move(severity);
  a.source = std::move(source);
  a.message = std::move(message);
  a.details_json = std::move(details_json);
  alerts.push_back(std::move(a));
}

// A filter that returns kSuspend must override this; reaching the default is a bug in that
// filter, and continuing is the safe answer for the call.
boost::asio::awaitable<FilterStatus> Filter::resume_request(StreamContext&) {
  co_return FilterStatus::kContinue;
}

}  // namespace sluice

#include "filters/token_estimator.h"

namespace sluice {
const TokenEstimator& default_token_estimator() {
  static const ByteTokenEstimator estimator;
  return estimator;
}
}  // namespace sluice
