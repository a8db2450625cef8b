#include "proxy/intercept/connect.h"

#include <arpa/inet.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "proxy/connection.h"
#include "proxy/http_heads.h"
#include "proxy/log.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"
#include "sinks/event_id.h"
#include "sinks/event_json.h"
#include "sinks/json_writer.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace intercept {

bool parse_authority(std::string_view target, std::string& host, std::uint16_t& port) {
  std::string_view h, p;
  if (!target.empty() && target.front() == '[') {
    auto close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':')
      return false;
    h = target.substr(1, close - 1);
    p = target.substr(close + 2);
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string_view::npos || target.find(':') != colon) return false;
    h = target.substr(0, colon);
    p = target.substr(colon + 1);
  }
  if (h.empty() || h.size() > 253 || p.empty() || p.size() > 5) return false;
  for (char c : h) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) return false;
  }
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  host = lower(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

namespace {
// Parses an address into 16 bytes (IPv4 as ::ffff:a.b.c.d); false when not an address.
bool to_bytes(const std::string& a, unsigned char out[16], bool& v4) {
  unsigned char b4[4];
  if (::inet_pton(AF_INET, a.c_str(), b4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, b4, 4);
    v4 = true;
    return true;
  }
  v4 = false;
  return ::inet_pton(AF_INET6, a.c_str(), out) == 1;
}

bool prefix_match(const unsigned char* a, const unsigned char* b, int bits) {
  for (int i = 0; i < bits / 8; ++i)
    if (a[i] != b[i]) return false;
  if (bits % 8 == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits % 8));
  return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}
}  // namespace

bool in_cidr(const std::string& address, const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  unsigned char a[16], n[16];
  bool av4 = false, nv4 = false;
  if (!to_bytes(address, a, av4) || !to_bytes(cidr.substr(0, slash), n, nv4)) return false;
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (nv4) bits += 96;  // IPv4 blocks match IPv4 (and IPv4-mapped) addresses
  if (bits < 0 || bits > 128) return false;
  return prefix_match(a, n, bits);
}

bool is_special_address(const std::string& address) {
  static const char* kBlocks[] = {
      "0.0.0.0/8",     "10.0.0.0/8",   "100.64.0.0/10",  "127.0.0.0/8",   "169.254.0.0/16",
      "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
      "240.0.0.0/4",   "::/128",       "::1/128",        "fc00::/7",      "fe80::/10",
      "ff00::/8",      "64:ff9b::/96"};
  for (const char* b : kBlocks)
    if (in_cidr(address, b)) return true;
  return false;
}

const std::vector<std::string>& default_ai_hosts() {
  static const std::vector<std::string> hosts = {"api.openai.com",
                                                 "api.anthropic.com",
                                                 "generativelanguage.googleapis.com",
                                                 "api.mistral.ai",
                                                 "api.cohere.com",
                                                 "api.cohere.ai",
                                                 "api.groq.com",
                                                 "api.together.xyz",
                                                 "api.deepseek.com",
                                                 "api.perplexity.ai",
                                                 "api.fireworks.ai",
                                                 "openrouter.ai",
                                                 "api.x.ai",
                                                 "bedrock-runtime.amazonaws.com",
                                                 "api-inference.huggingface.co"};
  return hosts;
}

}  // namespace intercept

namespace {

bool host_matches(const std::string& host, const std::string& pattern) {
  if (host == pattern) return true;
  // "bedrock-runtime.amazonaws.com" also matches "bedrock-runtime.us-east-1.amazonaws.com".
  auto dot = pattern.find('.');
  if (dot == std::string::npos) return false;
  std::string_view first(pattern.data(), dot), rest(pattern.data() + dot);
  return host.size() > pattern.size() && host.starts_with(std::string(first) + ".") &&
         host.ends_with(rest);
}

asio::awaitable<void> answer(ClientConnection& conn, int status, std::string_view reason,
                             std::string_view error_class, const std::string& message) {
  std::string body = "sluice: " + message + "\n";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                     std::to_string(body.size()) +
                     "\r\nx-sluice-error: " + std::string(error_class) +
                     "\r\nConnection: close\r\n\r\n";
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  co_await conn.write(bufs);
}

void raise_shadow_ai(ClientConnection& conn, const std::string& host, std::uint16_t port) {
  Worker& w = conn.worker();
  auto rt = w.shared().runtime.get();
  AlertEvent a;
  a.alert_id = new_event_id();
  a.unix_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  a.type = "shadow_ai.detected";
  a.severity = "warning";
  a.source = "intercept";
  const IdentityRule& d = rt->config().identity.default_identity;
  a.identity.tenant = d.tenant;
  a.identity.team = d.team;
  a.identity.app = d.app;
  a.identity.key_kind = "none";
  a.message = "CONNECT to an AI API host that Sluice does not govern: " + host;
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

// One server-side TLS context for every intercepted connection; each connection sets its own
// certificate (the leaf minted for its CONNECT host) on its SSL object.
asio::ssl::context& server_tls_context() {
  static asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_server);
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
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

asio::awaitable<bool> intercept_tls(ClientConnection& conn, const Runtime& rt,
                                    const std::string& host, beast::flat_buffer& early_bytes) {
  ProxyMetrics& m = conn.worker().metrics();
  intercept::Leaf leaf;
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
    co_await answer(conn, 502, "Bad Gateway", "intercept_failed",
                    "cannot mint a certificate for " + host);
    co_return false;
  }
  static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
  if (!co_await conn.write(kEstablished)) co_return false;
  auto tls = std::make_unique<ClientConnection::TlsStream>(conn.socket(), server_tls_context());
  SSL* ssl = tls->native_handle();
  if (SSL_use_certificate(ssl, leaf.cert.get()) != 1 || SSL_use_PrivateKey(ssl, leaf.key) != 1) {
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  auto lc = rt.config().listener;
  conn.deadline().expires_after(lc.header_timeout);
  // Bytes the client sent right after CONNECT (its ClientHello) are the handshake's start.
  auto [hec, used] =
      co_await tls->async_handshake(asio::ssl::stream_base::server, early_bytes.data(), kTuple);
  error_code ec = conn.deadline().done(hec);
  early_bytes.consume(used);
  if (ec) {
    // Garbage instead of a ClientHello, a client that does not trust Sluice's CA, a timeout.
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "intercept-handshake",
                  "TLS handshake with a proxy client failed",
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

}  // namespace

asio::awaitable<bool> handle_connect(ClientConnection& conn, const ClientRequest& request,
                                     beast::flat_buffer& early_bytes) {
  using namespace asio::experimental::awaitable_operators;
  Worker& w = conn.worker();
  ProxyMetrics& m = w.metrics();
  auto rt = w.shared().runtime.get();
  const InterceptConfig& ic = rt->config().intercept;

  std::string host;
  std::uint16_t port = 0;
  if (!intercept::parse_authority(request.target(), host, port)) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    co_await answer(conn, 400, "Bad Request", "bad_connect",
                    "CONNECT needs an authority-form target, host:port");
    co_return false;
  }
  if (rt->intercepts(host)) co_return co_await intercept_tls(conn, *rt, host, early_bytes);
  const auto& ai = ic.ai_hosts.empty() ? intercept::default_ai_hosts() : ic.ai_hosts;
  if (std::any_of(ai.begin(), ai.end(),
                  [&](const std::string& p) { return host_matches(host, p); }))
    raise_shadow_ai(conn, host, port);
  if (!ic.tunnel) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    co_await answer(conn, 403, "Forbidden", "tunnel_refused",
                    "tunnels are not allowed here (intercept.tunnel: deny)");
    co_return false;
  }

  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), kTuple);
  if (rec || results.empty()) {
    m.tunnels_failed.fetch_add(1, std::memory_order_relaxed);
    co_await answer(conn, 502, "Bad Gateway", "tunnel_connect", "cannot resolve " + host);
    co_return false;
  }
  std::vector<tcp::endpoint> allowed;
  bool refused_private = false;
  for (const auto& r : results) {
    std::string a = r.endpoint().address().to_string();
    bool special = intercept::is_special_address(a);
    bool ok =
        !special || std::any_of(ic.allow_private.begin(), ic.allow_private.end(),
                                [&](const std::string& c) { return intercept::in_cidr(a, c); });
    if (ok)
      allowed.push_back(r.endpoint());
    else
      refused_private = true;
  }
  if (allowed.empty()) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    co_await answer(
        conn, 403, "Forbidden", "tunnel_refused",
        host + " resolves to a private or special address (see intercept.allow_private)");
    co_return false;
  }
  (void)refused_private;

  beast::tcp_stream dial(ex);
  dial.expires_after(std::chrono::seconds(10));
  auto [cec, ep] = co_await dial.async_connect(allowed, kTuple);
  if (cec) {
    m.tunnels_failed.fetch_add(1, std::memory_order_relaxed);
    co_await answer(conn, cec == beast::error::timeout ? 504 : 502,
                    cec == beast::error::timeout ? "Gateway Timeout" : "Bad Gateway",
                    "tunnel_connect", "cannot connect to " + host + ": " + cec.message());
    co_return false;
  }
  dial.expires_never();
  tcp::socket upstream = dial.release_socket();
  error_code nd;
  upstream.set_option(tcp::no_delay(true), nd);
  IoDeadline up_deadline(w.deadlines(), upstream);

  static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";
  if (!co_await conn.write(kEstablished)) co_return false;
  if (early_bytes.size() > 0) {  // a client that did not wait for the 200
    auto [wec, wn] = co_await asio::async_write(upstream, early_bytes.data(), kTuple);
    if (wec) co_return false;
    m.tunnel_bytes_up.fetch_add(wn, std::memory_order_relaxed);
    early_bytes.consume(early_bytes.size());
  }
  m.tunnels_ok.fetch_add(1, std::memory_order_relaxed);
  m.tunnels_active.fetch_add(1, std::memory_order_relaxed);
  const auto idle = rt->config().listener.idle_timeout;
  Clock::time_point last = Clock::now();
  co_await (pump(conn.socket(), conn.deadline(), upstream, m.tunnel_bytes_up, last, idle) &&
            pump(upstream, up_deadline, conn.socket(), m.tunnel_bytes_down, last, idle));
  m.tunnels_active.fetch_sub(1, std::memory_order_relaxed);
  error_code ignored;
  upstream.close(ignored);
  co_return false;
}

}  // namespace sluice
