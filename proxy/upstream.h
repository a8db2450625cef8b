// Connections to upstream providers: TLS (or plain HTTP for local servers), a keep-alive pool
// per worker thread, timeouts on every operation.
//
// Contract
//  * UpstreamTarget is built once per upstream per config snapshot; it owns the TLS context
//    (system store or the configured CA bundle; peer verification and host-name checking on
//    unless verify_tls is false; SNI for host names). Construction throws std::runtime_error
//    naming the upstream when the CA bundle cannot be loaded.
//  * UpstreamPool belongs to one worker thread and is used only there. acquire() returns a
//    pooled idle connection (checked for a peer close) or dials a new one; release() returns
//    a connection whose response was fully read and that the server left open.
//  * Every I/O function sets its own timeout and returns an error code; none throws.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "conf/config.h"
#include "proxy/io_deadline.h"

namespace sluice {

class ProxyMetrics;

class UpstreamTarget {
 public:
  explicit UpstreamTarget(const UpstreamConfig& config);
  const UpstreamConfig& config() const { return config_; }
  boost::asio::ssl::context* tls() const { return tls_.get(); }
  bool is_tls() const { return tls_ != nullptr; }
  const std::string& host_header() const { return host_header_; }

 private:
  UpstreamConfig config_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::string host_header_;  // "host" or "host:port" when the port is not the scheme's default
};

using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

class UpstreamConn {
 public:
  using Plain = boost::asio::ip::tcp::socket;
  using Tls = boost::beast::ssl_stream<boost::asio::ip::tcp::socket>;

  // The connection registers its I/O deadline with `deadlines` (its worker's list).
  UpstreamConn(std::shared_ptr<const UpstreamTarget> target, Plain stream, DeadlineList& deadlines);
  UpstreamConn(std::shared_ptr<const UpstreamTarget> target, Tls stream, DeadlineList& deadlines);

  const UpstreamTarget& target() const { return *target_; }
  const std::shared_ptr<const UpstreamTarget>& target_ptr() const { return target_; }
  boost::asio::ip::tcp::socket& tcp();
  Tls& tls() { return std::get<Tls>(stream_); }
  IoDeadline& deadline() { return deadline_; }
  // TLS client handshake under the current deadline (no-op for plain connections).
  boost::asio::awaitable<boost::system::error_code> handshake();
  // Cancels pending I/O and closes the socket at once (client went away, shutdown).
  void abort();
  bool is_open();
  // True when the peer has closed or sent unsolicited bytes (never reuse then). The socket
  // is probed only for connections idle for kProbeAfterIdle or longer, unless probe_recent
  // (the periodic sweep probes every idle connection).
  bool looks_stale(std::chrono::steady_clock::time_point now, bool probe_recent = false);
  static constexpr std::chrono::seconds kProbeAfterIdle{1};
  // Response bytes already read from the socket and not yet parsed.
  std::size_t buffered() const { return buffer_.size(); }

  boost::asio::awaitable<boost::system::error_code> write(std::string_view head,
                                                          std::string_view body);
  boost::asio::awaitable<boost::system::error_code> read_header(ResponseParser& parser,
                                                                std::chrono::milliseconds timeout);
  // Reads once from the socket and parses; body bytes land in parser's buffer_body.
  boost::asio::awaitable<boost::system::error_code> read_some(ResponseParser& parser,
                                                              std::chrono::milliseconds timeout);
  // Parses bytes already read (no I/O) until the parser needs more input, its body buffer is
  // full (need_buffer) or the message is done; `progressed` tells whether any byte was used.
  boost::system::error_code parse_buffered(ResponseParser& parser, bool& progressed);

  bool reused = false;
  std::chrono::steady_clock::time_point idle_since{};

 private:
  std::shared_ptr<const UpstreamTarget> target_;
  std::variant<Plain, Tls> stream_;
  IoDeadline deadline_;  // after stream_: it cancels stream_'s socket
  boost::beast::flat_buffer buffer_;
};

enum class ConnectError { kNone, kResolve, kConnect, kTls, kTimeout };

struct ConnectResult {
  std::unique_ptr<UpstreamConn> conn;
  ConnectError error = ConnectError::kNone;
  std::string detail;  // error text for logs (no secrets)
};

class UpstreamPool {
 public:
  UpstreamPool(boost::asio::any_io_executor executor, ProxyMetrics& metrics,
               DeadlineList& deadlines)
      : executor_(std::move(executor)), metrics_(metrics), deadlines_(deadlines) {}
  ~UpstreamPool();

  // A pooled connection (reused = true) or a new one.
  boost::asio::awaitable<ConnectResult> acquire(
      const std::shared_ptr<const UpstreamTarget>& target);
  // Always dials (the retry after a stale pooled connection).
  boost::asio::awaitable<ConnectResult> connect(
      const std::shared_ptr<const UpstreamTarget>& target);
  void release(std::unique_ptr<UpstreamConn> conn);
  // Closes idle connections past their TTL; called periodically by the worker.
  void sweep();
  void close_all();

 private:
  boost::asio::any_io_executor executor_;
  ProxyMetrics& metrics_;
  DeadlineList& deadlines_;
  std::unordered_map<const UpstreamTarget*, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
};

}  // namespace sluice
