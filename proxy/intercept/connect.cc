#include "proxy/intercept/connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "proxy/connection.h"
#include "proxy/intercept/destination.h"
#include "proxy/intercept/proxy_auth.h"
#include "proxy/intercept/session.h"
#include "proxy/log.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

asio::awaitable<void> answer(ClientConnection& conn, int status, std::string_view reason,
                             std::string_view error_class, const std::string& message,
                             std::string_view extra_headers = "") {
  std::string body = "sluice: " + message + "\n";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                     std::to_string(body.size()) +
                     "\r\nx-sluice-error: " + std::string(error_class) + "\r\n" +
                     std::string(extra_headers) + "Connection: close\r\n\r\n";
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  co_await conn.write(bufs);
}

}  // namespace

asio::awaitable<bool> handle_connect(ClientConnection& conn, const ClientRequest& request,
                                     beast::flat_buffer& early_bytes) {
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

  // Proxy-Authorization first: it decides who the connection's calls (and alerts) belong to.
  if (!ic.proxy_users.empty() || ic.proxy_auth_required) {
    auto outcome = intercept::check_proxy_auth(request[beast::http::field::proxy_authorization],
                                               ic.proxy_users);
    using R = intercept::ProxyAuthResult;
    if (outcome.result == R::kOk) {
      conn.set_proxy_identity(outcome.user->identity);
    } else if (outcome.result != R::kNone || ic.proxy_auth_required) {
      // Wrong credentials are refused even when authentication is optional: a client that
      // sends them expects to be someone, and must not silently become the default identity.
      m.client_error(ClientError::kAuthRefused);
      log_throttled(LogLevel::kWarn, "proxy-auth", "CONNECT refused: proxy authentication",
                    {{"result", outcome.result == R::kNone        ? "missing"
                                : outcome.result == R::kMalformed ? "malformed"
                                                                  : "refused"}});
      co_await answer(conn, 407, "Proxy Authentication Required", "proxy_auth",
                      "proxy authentication required (intercept.proxy_users)",
                      "Proxy-Authenticate: Basic realm=\"sluice\"\r\n");
      co_return false;
    }
  }

  if (rt->intercepts(host))
    co_return co_await intercept::terminate_tls(conn, *rt, host, kEstablished, early_bytes);
  intercept::check_shadow_ai(conn, *rt, host, port, "connect");
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
  std::vector<tcp::endpoint> candidates;
  for (const auto& r : results) candidates.push_back(r.endpoint());
  std::vector<tcp::endpoint> allowed = intercept::permitted_endpoints(ic, candidates);
  if (allowed.empty()) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    co_await answer(
        conn, 403, "Forbidden", "tunnel_refused",
        host + " resolves to a private or special address (see intercept.allow_private)");
    co_return false;
  }

  tcp::socket upstream(ex);
  error_code cec = co_await intercept::dial(allowed, upstream, std::chrono::seconds(10));
  if (cec) {
    m.tunnels_failed.fetch_add(1, std::memory_order_relaxed);
    const bool timeout = cec == beast::error::timeout;
    co_await answer(conn, timeout ? 504 : 502, timeout ? "Gateway Timeout" : "Bad Gateway",
                    "tunnel_connect", "cannot connect to " + host + ": " + cec.message());
    co_return false;
  }
  if (!co_await conn.write(kEstablished)) co_return false;
  co_await intercept::relay(conn, std::move(upstream), early_bytes,
                            rt->config().listener.idle_timeout);
  co_return false;
}

}  // namespace sluice
