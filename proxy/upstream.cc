#include "proxy/upstream.h"

#include <sys/socket.h>

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <stdexcept>

#include "proxy/metrics.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

UpstreamTarget::UpstreamTarget(const UpstreamConfig& config) : config_(config) {
  bool default_port = (config.scheme == "https" && config.port == 443) ||
                      (config.scheme == "http" && config.port == 80);
  bool ipv6 = config.host.find(':') != std::string::npos;
  host_header_ = ipv6 ? "[" + config.host + "]" : config.host;
  if (!default_port) host_header_ += ":" + std::to_string(config.port);
  if (config.scheme != "https") return;
  tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
  error_code ec;
  if (!config.ca_file.empty()) {
    tls_->load_verify_file(config.ca_file, ec);
    if (ec) {
      throw std::runtime_error("upstream " + config.name + ": cannot load ca_file " +
                               config.ca_file + ": " + ec.message());
    }
  } else {
    tls_->set_default_verify_paths(ec);
  }
  tls_->set_verify_mode(config.verify_tls ? asio::ssl::verify_peer : asio::ssl::verify_none);
  // Resumed sessions save a round trip on every new pooled connection.
  SSL_CTX_set_session_cache_mode(tls_->native_handle(), SSL_SESS_CACHE_CLIENT);
}

// Beast sizes each read by the buffer's free capacity (512 bytes at first): a typical
// response would then take several reads and as many writes to the client.
constexpr std::size_t kReadBufferBytes = 16 * 1024;

UpstreamConn::UpstreamConn(std::shared_ptr<const UpstreamTarget> target, Plain stream,
                           DeadlineList& deadlines)
    : target_(std::move(target)), stream_(std::move(stream)), deadline_(deadlines, tcp()) {
  buffer_.reserve(kReadBufferBytes);
}
UpstreamConn::UpstreamConn(std::shared_ptr<const UpstreamTarget> target, Tls stream,
                           DeadlineList& deadlines)
    : target_(std::move(target)), stream_(std::move(stream)), deadline_(deadlines, tcp()) {
  buffer_.reserve(kReadBufferBytes);
}

tcp::socket& UpstreamConn::tcp() {
  return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream_);
}

void UpstreamConn::abort() {
  error_code ec;
  tcp().cancel(ec);
  tcp().close(ec);
}

bool UpstreamConn::is_open() { return tcp().is_open(); }

bool UpstreamConn::looks_stale(std::chrono::steady_clock::time_point now, bool probe_recent) {
  if (!is_open()) return true;
  if (buffer_.size() != 0) return true;  // bytes after a complete response: protocol confusion
  // A connection used within the last second is very unlikely to have been closed by the
  // server (keep-alive timeouts are seconds); skipping the probe saves a system call per call
  // under load, and the retry on a stale connection covers the rare miss.
  if (!probe_recent && now - idle_since < kProbeAfterIdle) return false;
  char c;
  ssize_t n = ::recv(tcp().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly close by the server
  if (n > 0) return true;   // unsolicited bytes (or a TLS close_notify/alert)
  return errno != EAGAIN && errno != EWOULDBLOCK;
}

asio::awaitable<error_code> UpstreamConn::write(std::string_view head, std::string_view body) {
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head.data(), head.size()),
                                         asio::buffer(body.data(), body.size())};
  deadline_.expires_after(target_->config().read_timeout);
  auto [ec, n] =
      co_await std::visit([&](auto& s) { return asio::async_write(s, bufs, kTuple); }, stream_);
  co_return deadline_.done(ec);
}

asio::awaitable<error_code> UpstreamConn::read_header(ResponseParser& parser,
                                                      std::chrono::milliseconds timeout) {
  deadline_.expires_after(timeout);
  auto [ec, n] = co_await std::visit(
      [&](auto& s) { return http::async_read_header(s, buffer_, parser, kTuple); }, stream_);
  co_return deadline_.done(ec);
}

asio::awaitable<error_code> UpstreamConn::read_some(ResponseParser& parser,
                                                    std::chrono::milliseconds timeout) {
  deadline_.expires_after(timeout);
  auto [ec, n] = co_await std::visit(
      [&](auto& s) { return http::async_read_some(s, buffer_, parser, kTuple); }, stream_);
  co_return deadline_.done(ec);
}

error_code UpstreamConn::parse_buffered(ResponseParser& parser, bool& progressed) {
  progressed = false;
  error_code ec;
  while (buffer_.size() > 0 && !parser.is_done()) {
    std::size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (used > 0) progressed = true;
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;  // an incomplete element: wait for the network
      continue;
    }
    if (ec || used == 0) break;  // need_buffer (body buffer full) or a parse error
  }
  return ec;
}

asio::awaitable<error_code> UpstreamConn::handshake() {
  auto* tls = std::get_if<Tls>(&stream_);
  if (tls == nullptr) co_return error_code{};
  auto [ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, kTuple);
  co_return deadline_.done(ec);
}

UpstreamPool::~UpstreamPool() { close_all(); }

asio::awaitable<ConnectResult> UpstreamPool::acquire(
    const std::shared_ptr<const UpstreamTarget>& target) {
  auto it = idle_.find(target.get());
  if (it != idle_.end()) {
    auto& list = it->second;
    auto now = std::chrono::steady_clock::now();
    // Most recently used first: it is the least likely to have been closed by the server.
    while (!list.empty()) {
      auto conn = std::move(list.back());
      list.pop_back();
      metrics_.upstream_idle.fetch_sub(1, std::memory_order_relaxed);
      if (now - conn->idle_since > target->config().idle_connection_ttl || conn->looks_stale(now)) {
        conn->abort();
        continue;
      }
      conn->reused = true;
      metrics_.upstream_reused.fetch_add(1, std::memory_order_relaxed);
      co_return ConnectResult{std::move(conn), ConnectError::kNone, {}};
    }
  }
  co_return co_await connect(target);
}

asio::awaitable<ConnectResult> UpstreamPool::connect(
    const std::shared_ptr<const UpstreamTarget>& target) {
  const UpstreamConfig& cfg = target->config();
  ConnectResult result;
  metrics_.upstream_connects.fetch_add(1, std::memory_order_relaxed);
  auto fail = [&](ConnectError e, std::string detail) {
    metrics_.upstream_connect_errors.fetch_add(1, std::memory_order_relaxed);
    result.error = e;
    result.detail = std::move(detail);
    result.conn.reset();
    return std::move(result);
  };

  const std::string& dial_host = cfg.connect_to ? cfg.connect_to->host : cfg.host;
  std::uint16_t dial_port = cfg.connect_to ? cfg.connect_to->port : cfg.port;
  tcp::resolver resolver(executor_);
  auto deadline = std::chrono::steady_clock::now() + cfg.connect_timeout;
  auto [rec, endpoints] =
      co_await resolver.async_resolve(dial_host, std::to_string(dial_port), kTuple);
  if (rec) co_return fail(ConnectError::kResolve, "resolve " + dial_host + ": " + rec.message());

  beast::tcp_stream stream(executor_);
  stream.expires_at(deadline);
  auto [cec, ep] = co_await stream.async_connect(endpoints, kTuple);
  if (cec) {
    co_return fail(cec == beast::error::timeout ? ConnectError::kTimeout : ConnectError::kConnect,
                   "connect " + dial_host + ":" + std::to_string(dial_port) + ": " + cec.message());
  }
  // Connected: from here on the connection's coarse deadline replaces the stream's timer.
  stream.expires_never();
  tcp::socket socket = stream.release_socket();
  socket.set_option(tcp::no_delay(true));

  if (!target->is_tls()) {
    result.conn = std::make_unique<UpstreamConn>(target, std::move(socket), deadlines_);
    co_return std::move(result);
  }
  auto conn = std::make_unique<UpstreamConn>(
      target, UpstreamConn::Tls(std::move(socket), *target->tls()), deadlines_);
  UpstreamConn::Tls& tls = conn->tls();
  error_code ec;
  boost::asio::ip::make_address(cfg.host, ec);
  const bool host_is_ip = !ec;
  if (!host_is_ip && !SSL_set_tlsext_host_name(tls.native_handle(), cfg.host.c_str())) {
    co_return fail(ConnectError::kTls, "cannot set SNI");
  }
  if (cfg.verify_tls) tls.set_verify_callback(asio::ssl::host_name_verification(cfg.host));
  conn->deadline().expires_at(deadline);
  error_code hec = co_await conn->handshake();
  if (hec) {
    co_return fail(hec == beast::error::timeout ? ConnectError::kTimeout : ConnectError::kTls,
                   "TLS handshake with " + cfg.host + ": " + hec.message());
  }
  result.conn = std::move(conn);
  co_return std::move(result);
}

void UpstreamPool::release(std::unique_ptr<UpstreamConn> conn) {
  if (!conn || !conn->is_open()) return;
  const auto& cfg = conn->target().config();
  auto& list = idle_[&conn->target()];
  if (list.size() >= cfg.max_idle_connections) {
    conn->abort();
    return;
  }
  conn->deadline().expires_never();
  conn->idle_since = std::chrono::steady_clock::now();
  list.push_back(std::move(conn));
  metrics_.upstream_idle.fetch_add(1, std::memory_order_relaxed);
}

void UpstreamPool::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    std::erase_if(list, [&](std::unique_ptr<UpstreamConn>& c) {
      if (now - c->idle_since > c->target().config().idle_connection_ttl ||
          c->looks_stale(now, /*probe_recent=*/true)) {
        c->abort();
        metrics_.upstream_idle.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
      return false;
    });
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

void UpstreamPool::close_all() {
  for (auto& [k, list] : idle_) {
    for (auto& c : list) {
      c->abort();
      metrics_.upstream_idle.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  idle_.clear();
}

}  // namespace sluice
