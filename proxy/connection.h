// One client connection: an HTTP/1.1 keep-alive loop in one coroutine on one worker.
//
// Reads each request head within listener.header_timeout (a keep-alive connection may wait
// idle_timeout for its next request's first byte), enforces the header size and count caps
// (431) and the body cap (413, refused before the body is read), refuses ambiguous framing
// (Content-Length with Transfer-Encoding: 400), then hands the call to handle_call().
//
// The loop reads from the raw socket or, after a TLS handshake, from a TLS stream over it
// (listener.tls_cert; an intercepted CONNECT; a transparent connection). Each I/O picks the
// stream with an if/else rather than a template over the stream type: both instantiations
// live in this one translation unit either way, and the call path (call.cc) stays
// stream-agnostic because it writes only through write().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "conf/config.h"
#include "proxy/io_deadline.h"
#include "proxy/local_reply.h"

namespace sluice {

class Worker;
class UpstreamConn;

// What a call exposes to be stopped when its client goes away (see ClientConnection::watch).
struct DisconnectWatch {
  bool gone = false;                            // set when the client closed or failed
  UpstreamConn* upstream = nullptr;             // aborted when the client goes
  boost::asio::cancellation_signal* cancel = nullptr;  // emitted when the client goes
};

class ClientConnection {
 public:
  // Which listener accepted the connection.
  enum class Kind {
    kApi,          // base-URL calls (plain or TLS) and CONNECT
    kTransparent,  // iptables-redirected TLS (intercept.transparent_address)
  };

  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket, Kind kind = Kind::kApi);
  ~ClientConnection();

  boost::asio::awaitable<void> run();

  // Drain: closes the socket when the connection sits between requests.
  void close_if_idle();

  Worker& worker() { return worker_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  IoDeadline& deadline() { return deadline_; }

  // After a CONNECT to an intercepted host: every later read and write goes through `tls`
  // (already handshaken), and calls are attributed to `host`.
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;
  void start_tls(std::unique_ptr<TlsStream> tls, std::string host);
  bool intercepted() const { return tls_ != nullptr; }
  const std::string& intercepted_host() const { return intercepted_host_; }

  // The identity a CONNECT's Proxy-Authorization named (intercept.proxy_users); calls on this
  // connection are attributed to it unless they present a virtual key.
  void set_proxy_identity(IdentityRule identity) { proxy_identity_ = std::move(identity); }
  const std::optional<IdentityRule>& proxy_identity() const { return proxy_identity_; }

  // Writes every buffer within the write timeout; adds the time spent to client_wait_us.
  // False when the client is gone or too slow (the connection is then closed).
  boost::asio::awaitable<bool> write(std::span<const boost::asio::const_buffer> buffers);
  boost::asio::awaitable<bool> write(std::string_view bytes);

  // Sends a local error in `provider`'s shape; returns whether the connection may be reused.
  boost::asio::awaitable<bool> send_local_reply(const LocalReply& reply, Provider provider,
                                                std::string_view request_id, bool keep_alive);

  // While a call runs, a client that closes its connection (or fails) must stop it at once,
  // not when the next write fails: watch() until unwatch() reports that into `w`.
  //
  // On a plain socket the watch is the connection's next read, started early (read-ahead):
  // it completes with the client's next request (kept in the buffer, so a pipelining client
  // is fine) or with the client's EOF or error (reported to `w`); the keep-alive loop then
  // awaits that same read instead of starting another. Compared with a separate watch (a
  // one-byte MSG_PEEK receive, cancelled when the call ends) that saves a system call and a
  // cancellation per call. Over TLS the bytes belong to the TLS stream, so the MSG_PEEK watch
  // remains. `w` must stay valid until unwatch().
  void watch(DisconnectWatch& w);
  void unwatch();

  std::int64_t client_wait_us = 0;  // reset by each call
  std::chrono::milliseconds write_timeout{60'000};

 private:
  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  IoDeadline deadline_;  // after socket_: it cancels socket_'s I/O
  std::unique_ptr<TlsStream> tls_;
  std::string intercepted_host_;
  std::optional<IdentityRule> proxy_identity_;
  Kind kind_;
  boost::beast::flat_buffer buffer_;
  std::list<ClientConnection*>::iterator registry_it_;
  bool idle_ = true;

  // Shared with the pending read-ahead's (or peek's) completion handler, which may run after
  // the connection is gone (then `conn` is null).
  struct ReadAhead;
  std::shared_ptr<ReadAhead> read_ahead_;
  void start_read_ahead();
  boost::asio::awaitable<boost::system::error_code> await_read_ahead();
};

}  // namespace sluice
