#include "proxy/intercept/transparent.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "proxy/connection.h"
#include "proxy/intercept/client_hello.h"
#include "proxy/intercept/original_dst.h"
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

asio::awaitable<bool> handle_transparent(ClientConnection& conn, beast::flat_buffer& buffer) {
  Worker& w = conn.worker();
  ProxyMetrics& m = w.metrics();
  auto rt = w.shared().runtime.get();
  const InterceptConfig& ic = rt->config().intercept;
  tcp::socket& sock = conn.socket();

  error_code lec;
  tcp::endpoint local = sock.local_endpoint(lec);
  intercept::OriginalDestination dst;
  std::string why;
  if (lec ||
      !intercept::original_destination(sock.native_handle(), local.address().is_v6(), dst, why)) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "transparent-dst",
                  "transparent connection without an original destination (not redirected?)",
                  {{"error", lec ? lec.message() : why}});
    co_return false;
  }
  error_code aec;
  auto dst_addr = asio::ip::make_address(dst.address, aec);
  if (aec || (dst_addr == local.address() && dst.port == local.port())) {
    // Straight to the transparent port, not redirected: dialling the "original destination"
    // would connect Sluice to itself.
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "transparent-loop",
                  "transparent connection made directly to the listener, not redirected", {});
    co_return false;
  }

  // The ClientHello, read (not peeked: the bytes go on to the handshake or the tunnel) within
  // the header timeout, never more than a ClientHello may be.
  conn.deadline().expires_after(rt->config().listener.header_timeout);
  intercept::HelloInfo hello;
  for (;;) {
    auto data = buffer.cdata();
    hello =
        intercept::parse_client_hello({static_cast<const std::uint8_t*>(data.data()), data.size()});
    if (hello.status != intercept::HelloStatus::kNeedMore) break;
    if (buffer.size() > intercept::kMaxClientHello + 64) {
      hello.status = intercept::HelloStatus::kMalformed;
      break;
    }
    auto [rec, n] = co_await sock.async_read_some(buffer.prepare(4096), kTuple);
    if (error_code ec = conn.deadline().done(rec)) {
      if (buffer.size() > 0 || ec == beast::error::timeout)
        m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
      co_return false;
    }
    buffer.commit(n);
  }
  conn.deadline().expires_never();
  if (hello.status != intercept::HelloStatus::kOk) {
    m.intercepts_failed.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kWarn, "transparent-hello",
                  "transparent connection did not start with a TLS ClientHello",
                  {{"result", intercept::to_string(hello.status)},
                   {"destination", dst.address + ":" + std::to_string(dst.port)}});
    co_return false;
  }

  const std::string& host = hello.server_name;
  if (!host.empty() && rt->intercepts(host))
    co_return co_await intercept::terminate_tls(conn, *rt, host, "", buffer);

  intercept::check_shadow_ai(conn, *rt, host.empty() ? dst.address : host, dst.port, "transparent");
  std::vector<tcp::endpoint> allowed =
      intercept::permitted_endpoints(ic, {tcp::endpoint(dst_addr, dst.port)});
  if (!ic.tunnel || allowed.empty()) {
    m.tunnels_refused.fetch_add(1, std::memory_order_relaxed);
    log_throttled(LogLevel::kInfo, "transparent-refused", "transparent tunnel refused",
                  {{"host", host},
                   {"destination", dst.address + ":" + std::to_string(dst.port)},
                   {"reason", ic.tunnel ? "private destination" : "intercept.tunnel: deny"}});
    co_return false;
  }
  tcp::socket upstream(co_await asio::this_coro::executor);
  if (error_code cec = co_await intercept::dial(allowed, upstream, std::chrono::seconds(10))) {
    m.tunnels_failed.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  co_await intercept::relay(conn, std::move(upstream), buffer, rt->config().listener.idle_timeout);
  co_return false;
}

}  // namespace sluice
