// Errors Sluice answers itself, in the provider's own JSON error shape, and the one place
// where an error's source and kind map to an HTTP status.
//
//   OpenAI:    {"error":{"message":"sluice: ...","type":"...","param":null,"code":"..."}}
//   Anthropic: {"type":"error","error":{"type":"...","message":"sluice: ..."}}
//
// Every local error carries the header `x-sluice-error: <error_class>` and a message starting
// with "sluice: ", so users can tell Sluice's answers from the provider's.
#pragma once

#include <string>
#include <string_view>

#include "conf/config.h"
#include "filters/filter.h"

namespace sluice {

// Kinds of failure Sluice itself detects; error_class strings are documented in docs/events.md.
enum class LocalError {
  kBadRequest,           // malformed HTTP or JSON, smuggling attempt
  kBodyTooLarge,         // 413
  kHeadersTooLarge,      // 431
  kUnsupportedMedia,     // 415: compressed request body
  kRouteNotFound,        // 404
  kPassthroughRefused,   // 403
  kAuthMissing,          // 401
  kUpstreamConnect,      // 502
  kUpstreamTls,          // 502
  kUpstreamTimeout,      // 504
  kUpstreamReset,        // 502
  kUpstreamBadResponse,  // 502
  kShuttingDown,         // 503
  kFilterFailed,         // 500: a filter's request phase failed unexpectedly
  kSinkUnavailable,      // 503: the event spool is full and full_policy is fail_closed
};

// The status, provider error type, OpenAI code and event error_class for a local error.
LocalReply make_local_reply(LocalError kind, Provider provider, std::string message);

// JSON body for `reply` in `provider`'s error shape.
std::string render_error_body(const LocalReply& reply, Provider provider);

std::string_view status_reason(int status);

}  // namespace sluice
