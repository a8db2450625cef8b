#include "mock/router.h"

#include <zlib.h>

#include <algorithm>

#include "mock/generation.h"
#include "mock/request_body.h"
#include "mock/request_options.h"
#include "mock/responses_anthropic.h"
#include "mock/responses_openai.h"

namespace sluice::mock {
namespace {

enum class Api { kChat, kResponses, kEmbeddings, kMessages };

bool is_anthropic(Api api) { return api == Api::kMessages; }

Plan bad_request(Api api, const std::string& message) {
  if (is_anthropic(api)) return anthropic_error(400, "invalid_request_error", message);
  return openai_error(400, message, "invalid_request_error");
}

Plan build(Api api, const BuildContext& ctx) {
  switch (api) {
    case Api::kChat:
      return openai_chat(ctx);
    case Api::kResponses:
      return openai_responses(ctx);
    case Api::kEmbeddings:
      return openai_embeddings(ctx);
    case Api::kMessages:
      return anthropic_messages(ctx);
  }
  return openai_server_error();
}

std::string malformed_tail(Api api) {
  switch (api) {
    case Api::kMessages:
      return anthropic_malformed_event();
    case Api::kResponses:
      return openai_responses_malformed_event();
    default:
      return openai_chat_malformed_event();
  }
}

std::string error_tail(Api api, std::size_t seq_no) {
  switch (api) {
    case Api::kMessages:
      return anthropic_error_event();
    case Api::kResponses:
      return openai_responses_error_event(static_cast<long long>(seq_no));
    default:
      return openai_chat_error_event();
  }
}

// Faults that change a normal answer: cut it short, inject a bad event, drop the connection.
// gzip (RFC 1952) of `data`, with zlib.
std::string gzip(const std::string& data) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return data;
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : data;
}

void apply_fault(Plan& p, Api api, Fault fault) {
  if (p.streaming) {
    const std::size_t half = std::max<std::size_t>(1, p.events.size() / 2);
    switch (fault) {
      case Fault::kResetMidStream:
        p.cut = half;
        p.ending = Ending::kReset;
        break;
      case Fault::kTruncatedJson: {
        p.cut = half;
        const std::string& next = p.events[std::min(half, p.events.size() - 1)].bytes;
        p.tail = next.substr(0, next.size() / 2);
        p.ending = Ending::kCloseFin;
        break;
      }
      case Fault::kMalformedSse:
        p.cut = half;
        p.tail = malformed_tail(api);
        break;
      case Fault::kErrorEvent:
        p.cut = half;
        p.tail = error_tail(api, half);
        break;
      default:
        break;
    }
    return;
  }
  switch (fault) {
    case Fault::kResetMidStream:
      p.cut = p.body.size() / 2;
      p.ending = Ending::kReset;
      break;
    case Fault::kTruncatedJson:
      p.cut = p.body.size() / 2;
      p.ending = Ending::kCloseFin;
      break;
    case Fault::kMalformedSse:  // not a stream: answer with invalid JSON instead
      p.body.resize(p.body.size() / 2);
      break;
    case Fault::kGzip:  // an upstream that ignores Accept-Encoding: identity
      p.body = gzip(p.body);
      p.headers.push_back({"Content-Encoding", "gzip"});
      break;
    default:
      break;
  }
}

Plan answer(const MockRequest& req, Api api) {
  RequestBody body = parse_request_body(req.body);
  if (!body.ok) {
    return bad_request(api, "We could not parse the JSON body of your request (" + body.error +
                                "). The API expects a JSON payload.");
  }
  MockOptions opt = parse_options(req, body.model_fault);
  if (!opt.error.empty()) return bad_request(api, opt.error);

  Plan p;
  if (!body.has_model) {
    p = bad_request(
        api, is_anthropic(api) ? "model: Field required" : "you must provide a model parameter");
  } else if (api == Api::kEmbeddings && !body.has_input) {
    p = bad_request(api, "'input' is a required property");
  } else if (opt.fault == Fault::kRateLimit) {
    p = is_anthropic(api) ? anthropic_rate_limit() : openai_rate_limit();
  } else if (opt.fault == Fault::kServerError) {
    p = is_anthropic(api) ? anthropic_server_error() : openai_server_error();
  } else if (opt.fault == Fault::kErrorEvent && !body.stream) {
    p = is_anthropic(api) ? anthropic_overloaded() : openai_server_error();
  } else if (opt.fault == Fault::kCloseBeforeHeaders) {
    p.ending = Ending::kNoResponse;
  } else {
    Generation gen = make_generation(req, body, opt);
    p = build(api, BuildContext{req, body, opt, gen});
    apply_fault(p, api, opt.fault);
  }
  p.header_delay_ms = opt.header_delay_ms;
  p.ttft_ms = opt.ttft_ms;
  p.token_delay_ms = opt.token_delay_ms;
  return p;
}

}  // namespace

bool is_control_request(const MockRequest& req) { return req.path().starts_with("/__mock/"); }

Plan control_response(const MockRequest& req, Recorder& recorder) {
  std::string_view path = req.path();
  Plan p;
  if (req.method == "GET" && path == "/__mock/requests") {
    p.body = recorder.entries_json();
  } else if (req.method == "POST" && path == "/__mock/reset") {
    recorder.reset();
    p.body = "{\"ok\":true}";
  } else if (req.method == "GET" && path == "/__mock/health") {
    p.body = "{\"ok\":true}";
  } else {
    p = openai_not_found(req);
  }
  return p;
}

Plan route(const MockRequest& req) {
  std::string_view path = req.path();
  if (req.method == "POST") {
    if (path == "/v1/chat/completions") return answer(req, Api::kChat);
    if (path == "/v1/responses") return answer(req, Api::kResponses);
    if (path == "/v1/embeddings") return answer(req, Api::kEmbeddings);
    if (path == "/v1/messages") return answer(req, Api::kMessages);
  } else if (req.method == "GET" && path == "/v1/models") {
    return openai_models();
  }
  if (path == "/v1/messages") return anthropic_error(404, "not_found_error", "Not Found");
  return openai_not_found(req);
}

}  // namespace sluice::mock
