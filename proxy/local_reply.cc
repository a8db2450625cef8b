#include "proxy/local_reply.h"

#include "sinks/json_writer.h"

namespace sluice {

namespace {
// Messages may quote client input (a header value): the sinks' writer escapes control
// characters and replaces invalid UTF-8, so the body is always valid JSON.
void append_json_string(std::string& out, std::string_view s) { JsonWriter::append_quoted(out, s); }
}  // namespace

LocalReply make_local_reply(LocalError kind, Provider provider, std::string message) {
  const bool anthropic = provider == Provider::kAnthropic;
  LocalReply r;
  r.message = std::move(message);
  auto set = [&](int status, const char* oa_type, const char* an_type, const char* code,
                 const char* cls) {
    r.status = status;
    r.type = anthropic ? an_type : oa_type;
    r.code = code;
    r.error_class = cls;
  };
  switch (kind) {
    case LocalError::kBadRequest:
      set(400, "invalid_request_error", "invalid_request_error", "invalid_request",
          "client_bad_request");
      break;
    case LocalError::kBodyTooLarge:
      set(413, "invalid_request_error", "request_too_large", "request_too_large",
          "client_body_too_large");
      break;
    case LocalError::kHeadersTooLarge:
      set(431, "invalid_request_error", "invalid_request_error", "headers_too_large",
          "client_bad_request");
      break;
    case LocalError::kUnsupportedMedia:
      set(415, "invalid_request_error", "invalid_request_error", "unsupported_content_encoding",
          "unsupported_media_type");
      break;
    case LocalError::kRouteNotFound:
      set(404, "invalid_request_error", "not_found_error", "unknown_url", "route_not_found");
      break;
    case LocalError::kPassthroughRefused:
      set(403, "invalid_request_error", "permission_error", "endpoint_not_allowed",
          "passthrough_refused");
      break;
    case LocalError::kAuthMissing:
      set(401, "invalid_request_error", "authentication_error", "invalid_api_key", "auth_missing");
      break;
    case LocalError::kUpstreamConnect:
      set(502, "api_error", "api_error", "upstream_connect_failed", "upstream_connect");
      break;
    case LocalError::kUpstreamTls:
      set(502, "api_error", "api_error", "upstream_tls_failed", "upstream_tls");
      break;
    case LocalError::kUpstreamTimeout:
      set(504, "api_error", "timeout_error", "upstream_timeout", "upstream_timeout");
      break;
    case LocalError::kUpstreamReset:
      set(502, "api_error", "api_error", "upstream_reset", "upstream_reset");
      break;
    case LocalError::kUpstreamBadResponse:
      set(502, "api_error", "api_error", "upstream_bad_response", "upstream_bad_response");
      break;
    case LocalError::kSinkUnavailable:
      set(503, "api_error", "overloaded_error", "event_sink_unavailable", "sink_unavailable");
      break;
    case LocalError::kFilterFailed:
      set(500, "api_error", "api_error", "filter_failed", "filter_failed");
      break;
    case LocalError::kShuttingDown:
      set(503, "api_error", "overloaded_error", "shutting_down", "shutdown");
      break;
  }
  return r;
}

std::string render_error_body(const LocalReply& reply, Provider provider) {
  std::string msg = "sluice: " + reply.message;
  std::string out;
  out.reserve(msg.size() + 128);
  if (provider == Provider::kAnthropic) {
    out += R"({"type":"error","error":{"type":)";
    append_json_string(out, reply.type);
    out += R"(,"message":)";
    append_json_string(out, msg);
    out += "}}";
  } else {
    out += R"({"error":{"message":)";
    append_json_string(out, msg);
    out += R"(,"type":)";
    append_json_string(out, reply.type);
    out += R"(,"param":null,"code":)";
    if (reply.code.empty())
      out += "null";
    else
      append_json_string(out, reply.code);
    out += "}}";
  }
  return out;
}

std::string_view status_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace sluice
