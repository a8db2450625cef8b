#include "proxy/call.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <optional>

#include "filters/token_estimator.h"
#include "proxy/connection.h"
#include "proxy/http_heads.h"
#include "proxy/log.h"
#include "proxy/providers/adapter.h"
#include "proxy/router.h"
#include "proxy/sse_framer.h"
#include "proxy/worker.h"
#include "sinks/event_id.h"
#include "sinks/event_json.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Provider provider_from_headers(const ClientRequest& req) {
  return req.count("anthropic-version") != 0 || req.count("x-api-key") != 0 ? Provider::kAnthropic
                                                                            : Provider::kOpenAI;
}

namespace {

std::int64_t us_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

std::int64_t unix_us_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Detaches a call's DisconnectWatch from the connection however the scope ends.
struct WatchScope {
  ClientConnection& conn;
  WatchScope(ClientConnection& c, DisconnectWatch& w) : conn(c) { conn.watch(w); }
  ~WatchScope() { conn.unwatch(); }
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;
};

// Chunked transfer-encoding frame for `data` (empty data yields nothing).
struct ChunkFrame {
  char size_line[20];
  std::size_t size_len = 0;
  std::array<asio::const_buffer, 3> buffers(std::string_view data) {
    // Hex digits by hand: snprintf cost more than the rest of a small stream event's relay.
    static constexpr char kHexDigits[] = "0123456789abcdef";
    char digits[16];
    std::size_t n = 0;
    for (std::size_t v = data.size(); v != 0 || n == 0; v >>= 4) digits[n++] = kHexDigits[v & 0xF];
    size_len = 0;
    while (n > 0) size_line[size_len++] = digits[--n];
    size_line[size_len++] = '\r';
    size_line[size_len++] = '\n';
    return {asio::buffer(size_line, size_len), asio::buffer(data.data(), data.size()),
            asio::buffer("\r\n", 2)};
  }
};

LocalError connect_error_kind(ConnectError e) {
  switch (e) {
    case ConnectError::kTls:
      return LocalError::kUpstreamTls;
    case ConnectError::kTimeout:
      return LocalError::kUpstreamTimeout;
    default:
      return LocalError::kUpstreamConnect;
  }
}

bool is_stale_connection_error(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// Call objects are large (the relay buffer is inside) and made once per request: a small
// per-thread free list spares the allocator a large-chunk allocation, and the heap
// consolidation it triggers, on every call.
class CallStorage {
 public:
  // Blocks of exactly `size` bytes are cached; other sizes go to the allocator.
  static void* take(std::size_t n, std::size_t size) {
    auto& list = free_list();
    if (n == size && !list.empty()) {
      void* p = list.back();
      list.pop_back();
      return p;
    }
    return ::operator new(n);
  }
  static void give(void* p, std::size_t n, std::size_t size) {
    auto& list = free_list();
    if (n == size && list.size() < kMaxCached) {
      list.push_back(p);
      return;
    }
    ::operator delete(p);
  }

 private:
  static constexpr std::size_t kMaxCached = 64;
  struct List : std::vector<void*> {
    ~List() {
      for (void* p : *this) ::operator delete(p);
    }
  };
  static List& free_list() {
    static thread_local List list;
    return list;
  }
};

class Call {
 public:
  static void* operator new(std::size_t n) { return CallStorage::take(n, sizeof(Call)); }
  static void operator delete(void* p, std::size_t n) { CallStorage::give(p, n, sizeof(Call)); }

  Call(ClientConnection& conn, ClientRequest& req, Clock::time_point start)
      : conn_(conn),
        worker_(conn.worker()),
        req_(req),
        start_(start),
        runtime_(worker_.shared().runtime.get()),
        metrics_(worker_.metrics()) {
    start_unix_us_ = unix_us_now();
    event_.event_id = new_event_id(start_unix_us_);
    event_.request_id = event_.event_id;
    event_.start_unix_us = start_unix_us_;
    ctx_.request_id = event_.request_id;
    conn_.client_wait_us = 0;
    hold_ = worker_.shared().sinks->holds_response();
  }

  asio::awaitable<bool> run();

 private:
  asio::awaitable<bool> reply_local(const LocalReply& reply, bool keep_alive);
  // Awaits a suspended filter's resume_request(), cancelled if the client disconnects
  // meanwhile (then nullopt).
  asio::awaitable<std::optional<FilterStatus>> resume_filter(Filter& f);
  asio::awaitable<bool> exchange();
  asio::awaitable<bool> upstream_failed(LocalReply reply);
  asio::awaitable<bool> relay_sse(UpstreamConn& up, ResponseParser& parser, bool& upstream_ok);
  asio::awaitable<bool> relay_body(UpstreamConn& up, ResponseParser& parser, bool& upstream_ok,
                                   bool chunked);
  asio::awaitable<bool> relay_buffered(UpstreamConn& up, ResponseParser& parser, bool& upstream_ok);
  asio::awaitable<bool> write_chunk(std::string_view data) { return write_out(data, true, false); }
  // Usage, served model and finish reason from a whole (non-streamed) response body.
  void take_response_facts(std::string_view body) {
    ResponseFacts facts;
    if (!read_response(route_.api, upstream_->provider, body, facts)) return;
    if (facts.usage.source == TokenUsage::Source::kProvider) ctx_.usage = facts.usage;
    if (!facts.served_model.empty()) ctx_.served_model = facts.served_model;
    ctx_.finish_reason = facts.finish_reason;
  }
  // One upstream read into buf_, plus every chunk that read brought (Beast parses one chunk
  // per read; the rest needs no I/O). Returns how many body bytes are in buf_.
  asio::awaitable<std::size_t> read_body(UpstreamConn& up, ResponseParser& parser, error_code& ec);
  // Writes, in one system call: the pending response head (if any), `data` (chunk-framed
  // when `chunked`), and the final chunk when `last` and `chunked`.
  asio::awaitable<bool> write_out(std::string_view data, bool chunked, bool last);
  // Completes the event, publishes it and its alerts (once), records metrics.
  void finish();
  void complete_event();                     // usage fallback, timings, filters' on_complete
  void publish_event(DurableCallback done);  // complete_event() + hand to the sinks
  void record_metrics();
  // With a sink that holds responses (fsync: always): publishes the event now and waits until
  // it is durable; false when it was refused (fail_closed), then the final bytes must not go.
  asio::awaitable<bool> hold_final_bytes();
  void fail(const std::string& cls, const char* source) {
    if (event_.error_class.empty()) {
      event_.error_class = cls;
      event_.error_source = source;
    }
  }

  ClientConnection& conn_;
  Worker& worker_;
  ClientRequest& req_;
  Clock::time_point start_;
  std::int64_t start_unix_us_ = 0;
  std::shared_ptr<const Runtime> runtime_;
  ProxyMetrics& metrics_;
  StreamContext ctx_;
  CallEvent event_;
  RouteMatch route_;
  const UpstreamConfig* upstream_ = nullptr;
  std::vector<std::unique_ptr<Filter>> filters_;
  DisconnectWatch watch_;
  std::optional<StreamAdapter> adapter_;
  std::string_view presented_key_;  // the client's key (a view into the request headers)
  ResolvedIdentity who_;
  std::string upstream_key_;  // provider key replacing a virtual key; empty: forward as is
  bool strip_usage_ = false;
  bool stream_counted_ = false;
  std::int64_t upstream_wait_us_ = 0;
  std::int64_t ttfb_us_ = -1;
  std::int64_t response_bytes_ = 0;
  std::string pending_head_;  // response head not yet written: sent with the first body bytes
  bool published_ = false;    // the event went to the sinks (before the final bytes, when held)
  bool hold_ = false;         // a sink holds responses (fsync: always): see hold_final_bytes()
  std::int64_t durable_wait_us_ = 0;
  char buf_[32 * 1024];
};

asio::awaitable<bool> Call::reply_local(const LocalReply& reply, bool keep_alive) {
  ctx_.reply = reply;
  event_.status = reply.status;
  const bool ours =
      reply.error_class == "filter_rejected" || reply.error_class == "filter_failed" ||
      reply.error_class == "sink_unavailable" || reply.error_class == "passthrough_refused";
  const char* source = ours ? "sluice" : reply.status >= 500 ? "upstream" : "client";
  fail(reply.error_class, source);
  ttfb_us_ = us_since(start_);
  bool keep = co_await conn_.send_local_reply(reply, ctx_.provider, ctx_.request_id, keep_alive);
  finish();
  co_return keep;
}

asio::awaitable<std::optional<FilterStatus>> Call::resume_filter(Filter& f) {
  DisconnectWatch watch;
  asio::cancellation_signal cancel;
  watch.cancel = &cancel;
  std::exception_ptr failure;
  FilterStatus st = FilterStatus::kContinue;
  {
    WatchScope scope(conn_, watch);
    try {
      // Its own coroutine, so that the client's disconnect can cancel whatever it awaits.
      st = co_await asio::co_spawn(co_await asio::this_coro::executor, f.resume_request(ctx_),
                                   asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (watch.gone) co_return std::nullopt;
  if (failure) std::rethrow_exception(failure);
  co_return st;
}

asio::awaitable<bool> Call::run() {
  const Config& cfg = runtime_->config();
  ctx_.provider = provider_from_headers(req_);
  event_.method = std::string(req_.method_string());
  std::string_view target = req_.target();
  event_.path = std::string(target.substr(0, target.find('?')));
  event_.request_bytes = static_cast<std::int64_t>(req_.body().size());
  if (auto tp = req_["traceparent"]; !tp.empty())
    event_.traceparent = std::string(tp.substr(0, 128));

  // Identity first, so that every event (a 404 included) names its caller. The key is read
  // from x-api-key (Anthropic style), else from a bearer token (OpenAI style).
  presented_key_ = req_["x-api-key"];
  if (presented_key_.empty()) {
    std::string_view auth = req_[http::field::authorization];
    if (auth.size() > 7 && istarts_with(auth, "bearer ")) presented_key_ = auth.substr(7);
  }
  who_ = resolve_identity(cfg.identity, runtime_->keys(), presented_key_, "");
  // Proxy credentials (intercept.proxy_users) name the caller of every call on their CONNECT;
  // a virtual key on the call itself is more specific and still wins.
  if (const auto& by_proxy = conn_.proxy_identity();
      by_proxy && who_.identity.key_kind != "virtual") {
    who_.identity.tenant = by_proxy->tenant;
    who_.identity.team = by_proxy->team;
    who_.identity.app = by_proxy->app;
  }
  ctx_.identity = who_.identity;
  event_.identity = who_.identity;

  bool anthropic_headers = ctx_.provider == Provider::kAnthropic;
  route_ = route_request(cfg, req_.method_string(), target, anthropic_headers);
  if (route_.invalid_path) {
    metrics_.client_error(ClientError::kBadRequest);
    co_return co_await reply_local(
        make_local_reply(LocalError::kBadRequest, ctx_.provider,
                         "the request target must be an absolute path without . or .. segments"),
        true);
  }
  if (route_.route == nullptr) {
    metrics_.client_error(ClientError::kRouteNotFound);
    co_return co_await reply_local(
        make_local_reply(LocalError::kRouteNotFound, ctx_.provider, "no route for " + event_.path),
        true);
  }
  upstream_ = route_.upstream;
  ctx_.provider = upstream_->provider;
  ctx_.api = route_.api;
  ctx_.upstream = upstream_->name;
  ctx_.path = route_.path;
  event_.provider = to_string(upstream_->provider);
  event_.upstream = upstream_->name;
  event_.endpoint = to_string(route_.api);
  event_.path = route_.path;

  if (auto ce = req_[http::field::content_encoding]; !ce.empty() && !iequals(ce, "identity")) {
    metrics_.client_error(ClientError::kUnsupportedMedia);
    co_return co_await reply_local(
        make_local_reply(LocalError::kUnsupportedMedia, ctx_.provider,
                         "compressed request bodies are not accepted (Content-Encoding: " +
                             std::string(ce.substr(0, 32)) + ")"),
        true);
  }

  // The identity was resolved before routing; a virtual key also needs a provider key for
  // the upstream this route reaches.
  if (event_.identity.key_kind == "virtual" || who_.refused) {
    const VirtualKey* vk = runtime_->keys().find(presented_key_);
    const std::string* key = nullptr;
    if (vk != nullptr) {
      auto it = vk->upstream_keys.find(upstream_->name);
      if (it != vk->upstream_keys.end()) key = &it->second;
    }
    if (key == nullptr) {
      metrics_.client_error(ClientError::kAuthRefused);
      co_return co_await reply_local(
          make_local_reply(LocalError::kAuthMissing, ctx_.provider,
                           vk != nullptr
                               ? "this key has no provider key for upstream " + upstream_->name
                               : "provider keys are not accepted here; use a Sluice key"),
          true);
    }
    upstream_key_ = *key;
  }

  // The body: validated whole, so the provider can never read a different request than the
  // one Sluice checked.
  std::string_view ctype = req_[http::field::content_type];
  bool json_body = !req_.body().empty() && (ctype.empty() || icontains(ctype, "json"));
  if (route_.api != ApiKind::kPassthrough || json_body) {
    RequestReadResult rr = read_request(route_.api, req_.body());
    if (!rr.ok) {
      metrics_.client_error(rr.error.find("duplicate") != std::string::npos ||
                                    rr.error.find("escaped") != std::string::npos
                                ? ClientError::kSmuggling
                                : ClientError::kBadJson);
      co_return co_await reply_local(
          make_local_reply(LocalError::kBadRequest, ctx_.provider, rr.error), true);
    }
    ctx_.request = std::move(rr.summary);
  }
  ctx_.request.estimated_input_tokens = default_token_estimator().estimate_input(ctx_.request);
  event_.requested_model = ctx_.request.model;
  event_.stream = ctx_.request.stream;

  if (route_.api == ApiKind::kPassthrough) {
    PassthroughPolicy policy = route_.route->passthrough.value_or(cfg.passthrough);
    if (policy == PassthroughPolicy::kRefuse) {
      co_return co_await reply_local(
          make_local_reply(LocalError::kPassthroughRefused, ctx_.provider,
                           "endpoint " + route_.path + " is not allowed"),
          true);
    }
  }

  // A sink that must record every call and cannot (spool full, full_policy: fail_closed)
  // refuses calls rather than serve them unrecorded.
  if (!worker_.shared().sinks->accepting()) {
    co_return co_await reply_local(
        make_local_reply(LocalError::kSinkUnavailable, ctx_.provider,
                         "the event spool is full and calls are refused until it drains"),
        true);
  }

  // Request filters, in order.
  const FilterChain& chain = runtime_->chain(route_.route);
  for (const auto& spec : chain.specs) filters_.push_back(spec.factory->create(spec.config));
  ctx_.chain = chain.names;
  ctx_.body = std::move(req_.body());
  for (std::size_t i = 0; i < filters_.size(); ++i) {
    auto& f = filters_[i];
    ctx_.chain_position = i;
    FilterStatus st = f->on_request(ctx_);
    if (st == FilterStatus::kSuspend) {
      std::optional<FilterStatus> resumed;
      bool filter_failed = false;
      try {
        resumed = co_await resume_filter(*f);
      } catch (const std::exception& e) {
        log_throttled(LogLevel::kError, "filter-resume", "filter request phase failed",
                      {{"error", e.what()}});
        filter_failed = true;  // (no co_await inside a handler)
      }
      if (filter_failed) {
        co_return co_await reply_local(
            make_local_reply(LocalError::kFilterFailed, ctx_.provider, "a request filter failed"),
            false);
      }
      if (!resumed) {
        fail("client_cancelled", "client");
        metrics_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
        finish();
        co_return false;
      }
      st = *resumed;
    }
    if (st == FilterStatus::kRespond) co_return co_await reply_local(ctx_.reply, true);
  }

  // Ask an OpenAI-shaped stream for its usage; the adapter removes what the client did not ask for.
  if (route_.api == ApiKind::kChatCompletions && ctx_.request.stream &&
      !ctx_.request.stream_usage_requested && upstream_->inject_stream_usage) {
    ctx_.body = inject_stream_usage(ctx_.body);
    strip_usage_ = true;
  }

  metrics_.calls_active.fetch_add(1, std::memory_order_relaxed);
  bool keep = false;
  {
    WatchScope scope(conn_, watch_);
    keep = co_await exchange();
  }
  metrics_.calls_active.fetch_sub(1, std::memory_order_relaxed);
  if (stream_counted_) metrics_.streams_active.fetch_sub(1, std::memory_order_relaxed);
  finish();
  co_return keep;
}

asio::awaitable<bool> Call::exchange() {
  auto target = runtime_->target(*upstream_);
  UpstreamHeadOptions ho;
  ho.method = req_.method_string();
  ho.target = route_.upstream_target;
  ho.host_header = target->host_header();
  ho.body_size = ctx_.body.size();
  ho.send_content_length = !ctx_.body.empty() || req_.method() == http::verb::post ||
                           req_.method() == http::verb::put || req_.method() == http::verb::patch;
  // A virtual key is replaced by the provider key, in the header that provider expects.
  if (!upstream_key_.empty()) {
    if (upstream_->provider == Provider::kAnthropic) {
      ho.auth_header = "x-api-key";
      ho.auth_value = upstream_key_;
    } else {
      ho.auth_header = "Authorization";
      ho.auth_value = "Bearer " + upstream_key_;
    }
  }
  std::string head = build_upstream_head(req_.base(), ho);

  std::unique_ptr<UpstreamConn> up;
  std::optional<ResponseParser> parser;
  for (int attempt = 0;; ++attempt) {
    auto t = Clock::now();
    // (No co_await inside a conditional expression: GCC 12 miscompiles that.)
    ConnectResult cr;
    if (attempt == 0) {
      cr = co_await worker_.pool().acquire(target);
    } else {
      cr = co_await worker_.pool().connect(target);
    }
    upstream_wait_us_ += us_since(t);
    if (watch_.gone) {
      if (cr.conn) cr.conn->abort();
      fail("client_cancelled", "client");
      co_return false;
    }
    if (!cr.conn) {
      log_throttled(LogLevel::kWarn, "connect:" + upstream_->name, "upstream connect failed",
                    {{"upstream", upstream_->name}, {"detail", cr.detail}});
      co_return co_await upstream_failed(make_local_reply(
          connect_error_kind(cr.error), ctx_.provider, "cannot reach upstream " + upstream_->name));
    }
    up = std::move(cr.conn);
    watch_.upstream = up.get();
    parser.emplace();
    parser->header_limit(64 * 1024);
    parser->body_limit(boost::none);
    if (req_.method() == http::verb::head) parser->skip(true);
    t = Clock::now();
    error_code ec = co_await up->write(head, ctx_.body);
    if (!ec && !watch_.gone) ec = co_await up->read_header(*parser, upstream_->first_byte_timeout);
    upstream_wait_us_ += us_since(t);
    if (watch_.gone) {
      up->abort();
      fail("client_cancelled", "client");
      co_return false;
    }
    if (!ec) break;
    bool retry = attempt == 0 && up->reused && !parser->got_some() && is_stale_connection_error(ec);
    up->abort();
    watch_.upstream = nullptr;
    if (retry) {
      metrics_.upstream_retries.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    LocalError kind = ec == beast::error::timeout ? LocalError::kUpstreamTimeout
                      : parser->got_some()        ? LocalError::kUpstreamBadResponse
                                                  : LocalError::kUpstreamReset;
    co_return co_await upstream_failed(make_local_reply(
        kind, ctx_.provider,
        "upstream " + upstream_->name + " failed before responding (" + ec.message() + ")"));
  }

  auto& res = parser->get();
  ctx_.response_status = res.result_int();
  for (auto& f : filters_) {
    if (f->on_response_headers(ctx_) == FilterStatus::kEndStream) break;
  }
  std::string_view ctype = res[http::field::content_type];
  bool sse = istarts_with(ctype, "text/event-stream");
  // Sluice asked for identity; an upstream that compresses anyway is relayed untouched, but its
  // usage cannot be read (the event falls back to the estimate): counted and logged.
  if (auto ce = res[http::field::content_encoding]; !ce.empty() && !iequals(ce, "identity")) {
    metrics_.upstream_compressed.fetch_add(1, std::memory_order_relaxed);
    log_throttled(
        LogLevel::kWarn, "compressed:" + upstream_->name,
        "upstream compressed its response despite Accept-Encoding: identity",
        {{"upstream", upstream_->name}, {"content_encoding", std::string(ce.substr(0, 32))}});
    sse = false;  // a compressed stream cannot be framed: relay its bytes as they come
  }
  bool buffer_whole = false;
  if (!sse && ctx_.response_status / 100 == 2) {
    for (auto& f : filters_) buffer_whole = buffer_whole || f->wants_response_body();
  }
  if (ctx_.response_status >= 400) fail("upstream_status", "upstream");
  event_.status = ctx_.response_status;

  bool upstream_ok = false;
  bool client_ok = false;
  if (sse) {
    client_ok = co_await relay_sse(*up, *parser, upstream_ok);
  } else if (buffer_whole) {
    client_ok = co_await relay_buffered(*up, *parser, upstream_ok);
  } else {
    auto len = parser->content_length();
    bool chunked = !len.has_value() && !parser->is_done();
    client_ok = co_await relay_body(*up, *parser, upstream_ok, chunked);
  }
  watch_.upstream = nullptr;
  if (upstream_ok && parser->is_done() && parser->keep_alive()) {
    worker_.pool().release(std::move(up));
  } else {
    up->abort();
  }
  co_return client_ok&& upstream_ok && !worker_.shared().draining.load(std::memory_order_relaxed);
}

// The upstream failed before its response began: the client gets a provider-shaped 502/504.
asio::awaitable<bool> Call::upstream_failed(LocalReply reply) {
  ctx_.reply = reply;
  event_.status = reply.status;
  fail(reply.error_class, "upstream");
  ttfb_us_ = us_since(start_);
  co_return co_await conn_.send_local_reply(reply, ctx_.provider, ctx_.request_id, true);
}

asio::awaitable<std::size_t> Call::read_body(UpstreamConn& up, ResponseParser& parser,
                                             error_code& ec) {
  auto& res = parser.get();
  res.body().data = buf_;
  res.body().size = sizeof buf_;
  auto t = Clock::now();
  ec = co_await up.read_some(parser, upstream_->read_timeout);
  upstream_wait_us_ += us_since(t);
  if (ec == http::error::need_buffer) ec = {};
  while (!ec && !parser.is_done() && up.buffered() > 0 && res.body().size > 0) {
    bool progressed = false;
    ec = up.parse_buffered(parser, progressed);
    if (ec == http::error::need_buffer) ec = {};
    if (!progressed) break;
  }
  co_return sizeof buf_ - res.body().size;
}

asio::awaitable<bool> Call::write_out(std::string_view data, bool chunked, bool last) {
  std::array<asio::const_buffer, 5> bufs;
  std::size_t k = 0;
  const bool with_head = !pending_head_.empty();
  if (with_head) bufs[k++] = asio::buffer(pending_head_);
  ChunkFrame frame;
  if (!data.empty()) {
    if (chunked) {
      for (const auto& b : frame.buffers(data)) bufs[k++] = b;
    } else {
      bufs[k++] = asio::buffer(data.data(), data.size());
    }
    response_bytes_ += static_cast<std::int64_t>(data.size());
  }
  if (last && chunked) bufs[k++] = asio::buffer("0\r\n\r\n", 5);
  if (k == 0) co_return true;
  bool ok = co_await conn_.write(std::span<const asio::const_buffer>(bufs.data(), k));
  if (with_head) {
    pending_head_.clear();
    ttfb_us_ = us_since(start_);
  }
  co_return ok;
}

// Streams: each upstream read is framed into SSE events, each event goes through the adapter
// and the response filters, and whatever they release is written before the next read
// (backpressure: no read while a write is pending).
asio::awaitable<bool> Call::relay_sse(UpstreamConn& up, ResponseParser& parser, bool& upstream_ok) {
  auto& res = parser.get();
  bool wants_events = false;
  for (auto& f : filters_) wants_events = wants_events || f->wants_response_events();
  StreamAdapter::Options opts;
  opts.strip_usage = strip_usage_ && ctx_.response_status / 100 == 2;
  opts.decode_text = wants_events;
  adapter_.emplace(route_.api, upstream_->provider, opts);
  SseFramer framer(upstream_->max_sse_event_bytes);
  metrics_.streams_active.fetch_add(1, std::memory_order_relaxed);
  stream_counted_ = true;

  ClientHeadOptions co;
  co.status = ctx_.response_status;
  co.reason = res.reason();
  co.request_id = ctx_.request_id;
  co.chunked = true;
  co.keep_alive = req_.keep_alive();
  co.extra = &ctx_.response_headers;
  pending_head_ = build_client_head(res.base(), co);
  // Events already read with the head go out with it; otherwise the head goes now, so the
  // client sees the stream open while the model thinks.
  if (up.buffered() == 0 && !co_await write_out({}, true, false)) {
    fail("client_cancelled", "client");
    co_return false;
  }

  std::string out;
  bool ended_by_filter = false;
  error_code ec;
  auto process = [&](std::string_view bytes) {
    framer.push(bytes);
    SseBlock block;
    while (!ended_by_filter && framer.next(block)) {
      if (!block.dispatch || block.oversize) {
        out.append(block.raw);
        continue;
      }
      ++event_.sse_events;
      ResponseEvent ev;
      adapter_->inspect(block, ev);
      for (auto& f : filters_) {
        if (f->on_response_event(ctx_, ev, false) == FilterStatus::kEndStream) {
          ended_by_filter = true;
          break;
        }
      }
      if (ended_by_filter) {
        for (const auto& d : ev.emit_before) adapter_->render_text(d, out);
        adapter_->render_end(ctx_.stream_end, out);
        break;
      }
      adapter_->render(ev, out);
    }
  };

  while (!parser.is_done() && !ended_by_filter) {
    std::size_t n = co_await read_body(up, parser, ec);
    if (n > 0) process(std::string_view(buf_, n));
    if (ec) break;
    // The last read's bytes go out with the final chunk after the loop; with a sink that
    // holds responses, so do the terminal event ([DONE], message_stop) and all after it.
    if (parser.is_done() || (hold_ && adapter_->saw_terminal())) continue;
    if (!out.empty() || !pending_head_.empty()) {
      bool ok = co_await write_chunk(out);
      out.clear();
      // A client that leaves once it has the terminal event ([DONE]) got the whole answer.
      if (!ok || (watch_.gone && !adapter_->saw_terminal())) {
        fail("client_cancelled", "client");
        metrics_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
        co_return false;
      }
    }
  }
  metrics_.sse_oversize_events.fetch_add(framer.oversize_events(), std::memory_order_relaxed);
  metrics_.sse_malformed_events.fetch_add(adapter_->malformed_events(), std::memory_order_relaxed);

  if (watch_.gone && !adapter_->saw_terminal()) {
    fail("client_cancelled", "client");
    metrics_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  if (ended_by_filter) {
    // The upstream is abandoned mid-response: its connection cannot be reused.
    upstream_ok = false;
    if (hold_) {
      if (!co_await hold_final_bytes()) co_return false;
    }
    co_return co_await write_out(out, true, true);
  }
  if (ec) {
    // Mid-stream failure: an in-stream error event the SDKs raise on, then the connection is
    // closed without the final chunk so that no client can mistake it for a complete response.
    out.append(framer.take_rest());
    adapter_->render_upstream_error("upstream " + upstream_->name + " failed mid-stream", out);
    fail(ec == beast::error::timeout ? "upstream_timeout" : "upstream_reset", "upstream");
    co_await write_chunk(out);
    co_return false;
  }
  upstream_ok = true;
  out.append(framer.take_rest());
  ResponseEvent end;
  for (auto& f : filters_) f->on_response_event(ctx_, end, true);
  for (const auto& d : end.emit_before) adapter_->render_text(d, out);
  if (adapter_->facts().is_error) fail("stream_error_event", "upstream");
  // Events the adapter could not read mean the client got a stream it cannot parse either.
  if (adapter_->malformed_events() > 0) fail("upstream_bad_response", "upstream");
  if (hold_) {
    if (!co_await hold_final_bytes()) co_return false;
  }
  co_return co_await write_out(out, true, true);
}

// Non-streamed bodies are relayed as they arrive; a copy (up to max_response_body_bytes) is
// kept to read the usage when the body is complete.
asio::awaitable<bool> Call::relay_body(UpstreamConn& up, ResponseParser& parser, bool& upstream_ok,
                                       bool chunked) {
  auto& res = parser.get();
  ClientHeadOptions co;
  co.status = ctx_.response_status;
  co.reason = res.reason();
  co.request_id = ctx_.request_id;
  co.chunked = chunked;
  auto len = parser.content_length();
  co.content_length = len ? static_cast<std::int64_t>(*len) : (chunked ? -1 : 0);
  co.keep_alive = req_.keep_alive();
  co.extra = &ctx_.response_headers;
  if (req_.method() == http::verb::head) co.content_length = -1;
  pending_head_ = build_client_head(res.base(), co);
  // The head goes out with the first body bytes when they came with it (the usual case: one
  // write for the whole response); otherwise at once.
  if (up.buffered() == 0 && !parser.is_done() && !co_await write_out({}, chunked, false)) {
    fail("client_cancelled", "client");
    co_return false;
  }
  bool keep_copy = route_.api != ApiKind::kPassthrough || ctx_.response_status >= 400;
  std::string copy;
  bool copy_complete = true;
  bool sent_last = false;
  bool facts_taken = false;
  error_code ec;
  while (!parser.is_done()) {
    std::size_t n = co_await read_body(up, parser, ec);
    if (n > 0) {
      std::string_view data(buf_, n);
      if (keep_copy && copy_complete) {
        if (copy.size() + n <= upstream_->max_response_body_bytes)
          copy.append(data);
        else
          copy_complete = false;
      }
      // The last piece carries the final chunk too.
      bool last = parser.is_done() && !ec;
      if (last && hold_) {
        // The event is published before these bytes: it needs the response's facts now.
        upstream_ok = true;
        if (keep_copy && copy_complete) take_response_facts(copy);
        facts_taken = true;
        if (!co_await hold_final_bytes()) co_return false;
      }
      bool ok = co_await write_out(data, chunked, last);
      if (ok && last) sent_last = true;
      // A client that leaves once it has every byte got the whole answer.
      if (!ok || (watch_.gone && !sent_last)) {
        fail("client_cancelled", "client");
        metrics_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
        co_return false;
      }
    }
    if (ec) break;
  }
  if (ec || (watch_.gone && !sent_last)) {
    fail(watch_.gone ? "client_cancelled"
                      : (ec == beast::error::timeout ? "upstream_timeout" : "upstream_reset"),
         watch_.gone ? "client" : "upstream");
    if (!watch_.gone && !pending_head_.empty()) {
      // Nothing reached the client yet: it gets a clear 502/504 instead of a cut response.
      pending_head_.clear();
      LocalReply r = make_local_reply(
          ec == beast::error::timeout ? LocalError::kUpstreamTimeout : LocalError::kUpstreamReset,
          ctx_.provider, "upstream " + upstream_->name + " failed before its response body");
      event_.status = r.status;
      ttfb_us_ = us_since(start_);
      co_await conn_.send_local_reply(r, ctx_.provider, ctx_.request_id, false);
    }
    co_return false;  // the client sees a short body and a closed connection
  }
  upstream_ok = true;
  if (keep_copy && copy_complete && !facts_taken) take_response_facts(copy);
  if (!sent_last) {
    if (hold_) {
      if (!co_await hold_final_bytes()) co_return false;
    }
    co_return co_await write_out({}, chunked, true);
  }
  co_return true;
}

// For filters that must see a whole body before any of it is sent (bounded by
// max_response_body_bytes; past it the call fails with 502 rather than leak unchecked bytes).
asio::awaitable<bool> Call::relay_buffered(UpstreamConn& up, ResponseParser& parser,
                                           bool& upstream_ok) {
  auto& res = parser.get();
  std::string body;
  error_code ec;
  while (!parser.is_done()) {
    std::size_t n = co_await read_body(up, parser, ec);
    if (body.size() + n > upstream_->max_response_body_bytes) {
      ec = http::error::body_limit;
      break;
    }
    body.append(buf_, n);
    if (ec || watch_.gone) break;
  }
  if (watch_.gone) {
    fail("client_cancelled", "client");
    co_return false;
  }
  if (ec) {
    LocalReply r = make_local_reply(ec == beast::error::timeout ? LocalError::kUpstreamTimeout
                                                                : LocalError::kUpstreamBadResponse,
                                    ctx_.provider, "upstream response could not be read whole");
    event_.status = r.status;
    fail(r.error_class, "upstream");
    co_return co_await conn_.send_local_reply(r, ctx_.provider, ctx_.request_id, false);
  }
  upstream_ok = true;
  take_response_facts(body);
  for (auto& f : filters_) {
    if (!f->wants_response_body()) continue;
    if (f->on_response_body(ctx_, body) == FilterStatus::kRespond) {
      // The filter refuses the response (e.g. a secret it blocks): the client gets its error
      // in the provider's shape instead of any byte of the body.
      event_.status = ctx_.reply.status;
      fail(ctx_.reply.error_class.empty() ? "filter_rejected" : ctx_.reply.error_class, "sluice");
      ttfb_us_ = us_since(start_);
      co_return co_await conn_.send_local_reply(ctx_.reply, ctx_.provider, ctx_.request_id,
                                                req_.keep_alive());
    }
  }
  ClientHeadOptions co;
  co.status = ctx_.response_status;
  co.reason = res.reason();
  co.request_id = ctx_.request_id;
  co.content_length = static_cast<std::int64_t>(body.size());
  co.keep_alive = req_.keep_alive();
  co.extra = &ctx_.response_headers;
  std::string head = build_client_head(res.base(), co);
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  ttfb_us_ = us_since(start_);
  response_bytes_ += static_cast<std::int64_t>(body.size());
  if (hold_) {
    if (!co_await hold_final_bytes()) co_return false;
  }
  co_return co_await conn_.write(bufs);
}

void Call::finish() {
  if (!published_) publish_event(nullptr);
  record_metrics();
}

void Call::complete_event() {
  if (adapter_) {
    const ResponseFacts& f = adapter_->facts();
    if (f.usage.source == TokenUsage::Source::kProvider) ctx_.usage = f.usage;
    if (!f.served_model.empty()) ctx_.served_model = f.served_model;
    if (!f.finish_reason.empty()) ctx_.finish_reason = f.finish_reason;
  }
  // No usage from the provider for a call that reached it: count it ourselves (documented
  // over-estimate), so that no call is ever recorded as free.
  if (ctx_.usage.source == TokenUsage::Source::kNone && ctx_.response_status / 100 == 2 &&
      route_.api != ApiKind::kPassthrough) {
    const TokenEstimator& est = default_token_estimator();
    ctx_.usage.input_tokens = ctx_.request.estimated_input_tokens;
    ctx_.usage.output_tokens = adapter_ ? est.estimate_text(adapter_->streamed_text_bytes()) : 0;
    ctx_.usage.source = TokenUsage::Source::kEstimated;
  }
  std::int64_t total = us_since(start_);
  event_.served_model = ctx_.served_model;
  event_.finish_reason = ctx_.finish_reason;
  event_.usage = ctx_.usage;
  event_.ttfb_us = ttfb_us_;
  event_.total_us = total;
  event_.upstream_us = upstream_wait_us_;
  event_.overhead_us = std::max<std::int64_t>(0, total - upstream_wait_us_ - conn_.client_wait_us);
  event_.response_bytes = response_bytes_;

  StreamInfo info;
  info.status = event_.status;
  info.error_class = event_.error_class;
  info.client_cancelled = event_.error_class == "client_cancelled";
  info.response_bytes = response_bytes_;
  for (auto& f : filters_) f->on_complete(ctx_, info);
  event_.cost_micro_usd = ctx_.cost_micro_usd;
  event_.filter_fields = std::move(ctx_.event_fields);
  event_.alerts = static_cast<int>(ctx_.alerts.size());
}

void Call::publish_event(DurableCallback done) {
  complete_event();
  published_ = true;
  SinkSet& sinks = *worker_.shared().sinks;
  if (sinks.empty()) {
    // No sink configured: nobody would read the record, and building its JSON is ~15,000
    // instructions, a seventh of a plain call's cost. Nothing to wait for either.
    if (done) done(Durability::kDurable);
    return;
  }
  if (done) {
    sinks.publish(make_record(event_), std::move(done));
  } else {
    sinks.publish(make_record(event_));
  }
  metrics_.events_published.fetch_add(1, std::memory_order_relaxed);
  for (auto& a : ctx_.alerts) {
    a.alert_id = new_event_id();
    a.event_id = event_.event_id;
    a.request_id = event_.request_id;
    a.unix_us = unix_us_now();
    a.identity = event_.identity;
    a.provider = event_.provider;
    a.model = event_.requested_model;
    sinks.publish(make_record(a));
    metrics_.alerts_published.fetch_add(1, std::memory_order_relaxed);
  }
}

// How long the final bytes wait for the event's durability at most (a stuck disk or spool
// writer must not hang every response): then they go anyway, counted.
constexpr std::chrono::seconds kDurableWait{5};

asio::awaitable<bool> Call::hold_final_bytes() {
  if (published_) co_return true;
  // fsync: always — the call's event must be durable before the client can see a complete
  // response (so a complete response implies a durable event). The callback comes from the
  // spool writer's thread: it posts here; a missing callback is bounded by kDurableWait.
  struct Wait {
    explicit Wait(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool done = false;
    Durability result = Durability::kUnknown;
  };
  auto ex = co_await asio::this_coro::executor;
  auto wait = std::make_shared<Wait>(ex);
  wait->timer.expires_after(kDurableWait);
  auto t = Clock::now();
  publish_event([wait, ex](Durability d) {
    asio::post(ex, [wait, d] {
      wait->done = true;
      wait->result = d;
      wait->timer.cancel();
    });
  });
  co_await wait->timer.async_wait(kTuple);
  durable_wait_us_ = us_since(t);
  metrics_.durable_waits.fetch_add(1, std::memory_order_relaxed);
  metrics_.durable_wait_us.fetch_add(static_cast<std::uint64_t>(durable_wait_us_),
                                     std::memory_order_relaxed);
  if (!wait->done) {
    metrics_.durable_wait_timeouts.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "durable-wait", "event not durable in time; response released");
    co_return true;
  }
  // fail_closed with a full spool: the event cannot be stored, so the response must not
  // complete either (the client sees a cut response, never a success without its record).
  if (wait->result == Durability::kRejected) {
    metrics_.durable_rejected.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  co_return true;
}

void Call::record_metrics() {
  std::int64_t total = event_.total_us;
  CallRecord rec;
  rec.provider = event_.provider.empty() ? "none" : event_.provider;
  rec.model = event_.requested_model;
  rec.status = event_.status;
  rec.stream = event_.stream;
  rec.error_class = event_.error_class;
  rec.total_us = total;
  rec.overhead_us = event_.overhead_us;
  rec.ttfb_us = ttfb_us_;
  rec.input_tokens = ctx_.usage.input_tokens;
  rec.output_tokens = ctx_.usage.output_tokens;
  rec.tenant = event_.identity.tenant;
  rec.cost_micro_usd = event_.cost_micro_usd;
  metrics_.record_call(worker_.id(), rec);

  if (runtime_->config().log.access_log) {
    std::string status = std::to_string(event_.status);
    std::string tot = std::to_string(total);
    log(LogLevel::kInfo, "call",
        {{"request_id", event_.request_id},
         {"tenant", event_.identity.tenant},
         {"provider", event_.provider},
         {"path", event_.path},
         {"model", event_.requested_model},
         {"status", status},
         {"error", event_.error_class},
         {"total_us", tot}});
  }
}

}  // namespace

asio::awaitable<bool> handle_call(ClientConnection& conn, ClientRequest& request,
                                  Clock::time_point start) {
  auto call = std::make_unique<Call>(conn, request, start);
  co_return co_await call->run();
}

}  // namespace sluice
