#include "proxy/intercept/session.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <algorithm>

#include "proxy/connection.h"
#include "proxy/http_heads.h"
#include "proxy/intercept/destination.h"
#include "proxy/log.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"
#include "sinks/event_id.h"
#include "sinks/event_json.h"
#include "sinks/json_writer.h"

namespace sluice::intercept {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// One server-side TLS context for every intercepted connection; each connection sets its own
// certificate (the leaf minted for its host) on its SSL object. Being one context, its session
// cache and ticket keys serve every worker: a client's next connection resumes its session
// (no full handshake, no certificate sent).
asio::ssl::context& server_tls_context() {
  static asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_server);
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
    static const unsigned char kSessionContext[] = "sluice-intercept";
    SSL_CTX_set_session_id_context(c.native_handle(), kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_session_cache_mode(c.native_handle(), SSL_SESS_CACHE_SERVER);
    // ALPN: HTTP/1.1 only (clients that offer h2 fall back).
    SSL_CTX_set_alpn_select_cb(
        c.native_handle(),
        [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void*) -> int {
          static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
          unsigned char* sel = nullptr;
          if (SSL_select_next_proto(&sel, outlen, kHttp11, sizeof kHttp11, in, inlen) !=
              OPENSSL_NPN_NEGOTIATED)
            return SSL_TLSEXT_ERR_NOACK;
          *out = sel;
          return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    return c;
  }();
  return ctx;
}

// One direction of the tunnel. Ends on EOF or error (then half-closes `to`), or when both
// directions have been silent for `idle`.
asio::awaitable<void> pump(tcp::socket& from, IoDeadline& deadline, tcp::socket& to,
                           std::atomic<std::uint64_t>& counter, Clock::time_point& last_activity,
                           std::chrono::milliseconds idle) {
  std::array<char, 16 * 1024> buf;
  for (;;) {
    deadline.expires_after(idle);
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
    error_code ec = deadline.done(rec);
    if (ec == beast::error::timeout && Clock::now() - last_activity < idle) continue;
    if (ec) break;
    last_activity = Clock::now();
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTuple);
    if (wec) break;
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

void check_shadow_ai(ClientConnection& conn, const Runtime& rt, const std::string& host,
                     std::uint16_t port, std::string_view mode) {
  const InterceptConfig& ic = rt.config().intercept;
  const auto& ai = ic.ai_hosts.empty() ? default_ai_hosts() : ic.ai_hosts;
  if (std::none_of(ai.begin(), ai.end(),
                   [&](const std::string& p) { return ai_host_matches(host, p); }))
    return;
  Worker& w = conn.worker();
  AlertEvent a;
  a.alert_id = new_event_id();
  a.unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  a.type = "shadow_ai.detected";
  a.severity = "warning";
  a.source = "intercept";
  const IdentityRule& d =
      conn.proxy_identity() ? *conn.proxy_identity() : rt.config().identity.default_identity;
  a.identity.tenant = d.tenant;
  a.identity.team = d.team;
  a.identity.app = d.app;
  a.identity.key_kind = "none";
  a.message = std::string(mode == "transparent" ? "transparent connection" : "CONNECT") +
              " to an AI API host that Sluice does not govern: " + host;
  std::string details;
  JsonWriter jw(details);
  jw.begin_object();
  jw.member("host", host);
  jw.member_int64("port", port);
  jw.end_object();
  a.details_json = details;
  w.shared().sinks->publish(make_record(a));
  w.metrics().alerts_published.fetch_add(1, std::memory_order_relaxed);
}

std::vector<tcp::endpoint> permitted_endpoints(const InterceptConfig& ic,
                                               const std::vector<tcp::endpoint>& candidates) {
  std::vector<tcp::endpoint> allowed;
  for (const auto& ep : candidates) {
    std::string a = ep.address().to_string();
    if (!is_special_address(a) || std::any_of(ic.allow_private.begin(), ic.allow_private.end(),
                                              [&](const std::string& c) { return in_cidr(a, c); }))
      allowed.push_back(ep);
  }
  return allowed;
}

asio::awaitable<bool> terminate_tls(ClientConnection& conn, const Runtime& rt,
                                    const std::string& host, std::string_view announce,
                                    beast::flat_buffer& early) {
  ProxyMetrics& m = conn.worker().metrics();
  Leaf leaf;
  bool minted = true;
  try {
    leaf = rt.ca()->leaf(host);
  } catch (const std::exception& e) {
    minted = false;  // (no co_await inside a handler)
    log_throttled(LogLevel::kError, "mint", "cannot mint a certificate",
                  {{"host", host}, {"error", e.what()}});
  }
  if (!minted) {
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    if (!announce.empty()) {
      std::string body = "sluice: cannot mint a certificate for " + host + "\n";
      co_await conn.write(
          "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "x-sluice-error: intercept_failed\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
    }
    co_return false;
  }
  if (!announce.empty() && !co_await conn.write(announce)) co_return false;
  auto tls = std::make_unique<ClientConnection::TlsStream>(conn.socket(), server_tls_context());
  SSL* ssl = tls->native_handle();
  if (SSL_use_certificate(ssl, leaf.cert.get()) != 1 || SSL_use_PrivateKey(ssl, leaf.key) != 1) {
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  conn.deadline().expires_after(rt.config().listener.header_timeout);
  auto [hec, used] =
      co_await tls->async_handshake(asio::ssl::stream_base::server, early.data(), kTuple);
  error_code ec = conn.deadline().done(hec);
  early.consume(used);
  if (ec) {
    // Garbage instead of a ClientHello, a client that does not trust Sluice's CA, a timeout.
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "intercept-handshake", "TLS handshake with a client failed",
                  {{"host", host}, {"error", ec.message()}});
    co_return false;
  }
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      sni != nullptr && !iequals(sni, host)) {
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "intercept-sni", "SNI does not match the CONNECT host",
                  {{"host", host}, {"sni", std::string(sni).substr(0, 255)}});
    co_return false;
  }
  m.intercepts_ok.fetch_add(1, std::memory_order_relaxed);
  conn.start_tls(std::move(tls), host);
  co_return true;
}

asio::awaitable<error_code> dial(const std::vector<tcp::endpoint>& endpoints, tcp::socket& out,
                                 std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [ec, ep] = co_await stream.async_connect(endpoints, kTuple);
  if (ec) co_return ec;
  stream.expires_never();
  out = stream.release_socket();
  co_return error_code{};
}

asio::awaitable<void> relay(ClientConnection& conn, tcp::socket upstream, beast::flat_buffer& early,
                            std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  Worker& w = conn.worker();
  ProxyMetrics& m = w.metrics();
  error_code nd;
  upstream.set_option(tcp::no_delay(true), nd);
  IoDeadline up_deadline(w.deadlines(), upstream);
  if (early.size() > 0) {  // a client that did not wait for the 200, or its ClientHello
    auto [wec, wn] = co_await asio::async_write(upstream, early.data(), kTuple);
    if (wec) co_return;
    m.tunnel_bytes_up.fetch_add(wn, std::memory_order_relaxed);
    early.consume(early.size());
  }
  m.tunnels_ok.fetch_add(1, std::memory_order_relaxed);
  m.tunnels_active.fetch_add(1, std::memory_order_relaxed);
  Clock::time_point last = Clock::now();
  co_await (pump(conn.socket(), conn.deadline(), upstream, m.tunnel_bytes_up, last, idle) &&
            pump(upstream, up_deadline, conn.socket(), m.tunnel_bytes_down, last, idle));
  m.tunnels_active.fetch_sub(1, std::memory_order_relaxed);
  error_code ignored;
  upstream.close(ignored);
}

}  // namespace sluice::intercept
