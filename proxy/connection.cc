#include "proxy/connection.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "proxy/call.h"
#include "proxy/http_heads.h"
#include "proxy/intercept/connect.h"
#include "proxy/intercept/transparent.h"
#include "proxy/log.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct ClientConnection::ReadAhead {
  ClientConnection* conn = nullptr;  // null once the connection is gone
  DisconnectWatch* watch = nullptr;  // the call being watched, if any
  bool pending = false;              // a read-ahead is in flight
  bool ready = false;                // it completed; the loop has not taken its result yet
  error_code ec;
  asio::any_completion_handler<void(error_code)> waiter;  // the loop, awaiting it
  // Over TLS: the MSG_PEEK watch of the call in progress (a new one per call: a cancelled
  // peek completes later, and must not be mistaken for the next call's).
  struct Peek {
    DisconnectWatch* watch = nullptr;
    char byte = 0;
  };
  std::shared_ptr<Peek> peek;
};

namespace {
void client_gone(DisconnectWatch* w) {
  if (w == nullptr || w->gone) return;
  w->gone = true;
  if (w->upstream != nullptr) w->upstream->abort();
  if (w->cancel != nullptr) w->cancel->emit(asio::cancellation_type::terminal);
}
}  // namespace

ClientConnection::ClientConnection(Worker& worker, asio::ip::tcp::socket socket, Kind kind)
    : worker_(worker),
      socket_(std::move(socket)),
      deadline_(worker.deadlines(), socket_),
      kind_(kind),
      read_ahead_(std::make_shared<ReadAhead>()) {
  read_ahead_->conn = this;
  registry_it_ = worker_.add(this);
  worker_.metrics().connections_active.fetch_add(1, std::memory_order_relaxed);
  worker_.metrics().connections_total.fetch_add(1, std::memory_order_relaxed);
}

ClientConnection::~ClientConnection() {
  read_ahead_->conn = nullptr;
  read_ahead_->watch = nullptr;
  if (read_ahead_->peek) read_ahead_->peek->watch = nullptr;
  worker_.remove(registry_it_);
  worker_.metrics().connections_active.fetch_sub(1, std::memory_order_relaxed);
}

void ClientConnection::close_if_idle() {
  if (!idle_) return;
  error_code ec;
  socket_.cancel(ec);
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

void ClientConnection::start_tls(std::unique_ptr<TlsStream> tls, std::string host) {
  tls_ = std::move(tls);
  intercepted_host_ = std::move(host);
}

void ClientConnection::watch(DisconnectWatch& w) {
  ReadAhead& ra = *read_ahead_;
  ra.watch = &w;
  if (ra.pending) return;  // started for an earlier watch() of this call
  if (ra.ready) {
    if (ra.ec) client_gone(&w);
    return;
  }
  // Bytes of a pipelined request already read: the client is there, as with a peek that
  // returns at once.
  if (buffer_.size() != 0) return;
  if (!tls_) {
    start_read_ahead();
    return;
  }
  auto peek = std::make_shared<ReadAhead::Peek>();
  peek->watch = &w;
  ra.peek = peek;
  socket_.async_receive(asio::buffer(&peek->byte, 1), asio::socket_base::message_peek,
                        [peek](const error_code& ec, std::size_t) {
                          // Bytes: the next request (left in the socket). No watch: the call
                          // ended and cancelled the peek.
                          if (ec) client_gone(peek->watch);
                        });
}

void ClientConnection::unwatch() {
  ReadAhead& ra = *read_ahead_;
  ra.watch = nullptr;
  if (ra.peek) {
    ra.peek->watch = nullptr;
    ra.peek.reset();
    error_code ec;
    socket_.cancel(ec);
  }
}

void ClientConnection::start_read_ahead() {
  ReadAhead& ra = *read_ahead_;
  ra.pending = true;
  // A plain completion handler, not a coroutine: it runs once per call.
  socket_.async_read_some(buffer_.prepare(4096),
                          [ra = read_ahead_](const error_code& ec, std::size_t n) {
                            ra->pending = false;
                            if (ra->conn == nullptr) return;
                            ra->conn->buffer_.commit(n);
                            ra->ready = true;
                            ra->ec = ec;
                            // EOF, a reset, or a write deadline that cancelled the socket.
                            if (ec) client_gone(ra->watch);
                            if (ra->waiter) {
                              auto waiter = std::move(ra->waiter);
                              std::move(waiter)(ec);
                            }
                          });
}

asio::awaitable<bool> ClientConnection::write(std::span<const asio::const_buffer> buffers) {
  auto t = std::chrono::steady_clock::now();
  deadline_.expires_at(t + write_timeout);
  std::tuple<error_code, std::size_t> r;
  // (if/else, not ?: — GCC 12 miscompiles co_await in a conditional expression)
  if (tls_) {
    r = co_await asio::async_write(*tls_, buffers, kTuple);
  } else {
    r = co_await asio::async_write(socket_, buffers, kTuple);
  }
  auto [wec, n] = r;
  error_code ec = deadline_.done(wec);
  client_wait_us +=
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t)
          .count();
  if (ec == beast::error::timeout) worker_.metrics().client_error(ClientError::kWriteTimeout);
  co_return !ec;
}

asio::awaitable<bool> ClientConnection::write(std::string_view bytes) {
  asio::const_buffer b(bytes.data(), bytes.size());
  co_return co_await write(std::span<const asio::const_buffer>(&b, 1));
}

asio::awaitable<bool> ClientConnection::send_local_reply(const LocalReply& reply, Provider provider,
                                                         std::string_view request_id,
                                                         bool keep_alive) {
  std::string body = render_error_body(reply, provider);
  std::vector<std::pair<std::string, std::string>> extra = reply.headers;
  extra.emplace_back("x-sluice-error", reply.error_class);
  ClientHeadOptions o;
  o.status = reply.status;
  o.reason = status_reason(reply.status);
  o.request_id = request_id;
  o.content_length = static_cast<std::int64_t>(body.size());
  o.keep_alive = keep_alive;
  o.extra = &extra;
  std::string head = build_local_head(o, "application/json");
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  bool ok = co_await write(bufs);
  co_return ok&& keep_alive;
}

asio::awaitable<void> ClientConnection::run() {
  ProxyMetrics& metrics = worker_.metrics();
  if (kind_ == Kind::kTransparent) {
    // The host comes from the ClientHello; an intercepted host goes on over TLS below, any
    // other became a tunnel (or was refused) and the connection ends with it.
    if (!co_await handle_transparent(*this, buffer_)) {
      error_code ec;
      socket_.close(ec);
      co_return;
    }
  } else if (auto rt = worker_.shared().runtime.get(); rt->listener_tls() != nullptr) {
    // base-URL mode over https: the handshake first, within the header timeout.
    auto tls = std::make_unique<TlsStream>(socket_, *rt->listener_tls());
    deadline_.expires_after(rt->config().listener.header_timeout);
    auto [hrec] = co_await tls->async_handshake(asio::ssl::stream_base::server, kTuple);
    if (error_code hec = deadline_.done(hrec)) {
      metrics.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      error_code ec;
      socket_.close(ec);
      co_return;
    }
    start_tls(std::move(tls), "");
  }
  for (;;) {
    auto rt = worker_.shared().runtime.get();
    const ListenerConfig& lc = rt->config().listener;
    write_timeout = lc.write_timeout;
    idle_ = true;
    if (worker_.shared().draining.load(std::memory_order_relaxed)) break;

    if (buffer_.size() == 0) {
      // Between requests a client may stay silent for idle_timeout; the head, once started,
      // must then arrive within header_timeout (a slowloris client is dropped).
      deadline_.expires_after(lc.idle_timeout);
      std::tuple<error_code, std::size_t> r;
      ReadAhead& ra = *read_ahead_;
      if (ra.pending || ra.ready) {
        // The previous call's watch started this read: take its result.
        if (ra.pending) {
          auto [wec] = co_await asio::async_initiate<decltype(kTuple)&, void(error_code)>(
              [&ra](auto handler) {
                // swap, not assignment: Boost 1.81's move assignment of
                // any_completion_handler recurses without end (it copies from an lvalue).
                asio::any_completion_handler<void(error_code)>(std::move(handler)).swap(ra.waiter);
              },
              kTuple);
          (void)wec;  // the same as ra.ec
        }
        ra.ready = false;
        r = {ra.ec, 0};  // the handler committed the bytes
      } else if (tls_) {
        r = co_await tls_->async_read_some(buffer_.prepare(4096), kTuple);
      } else {
        r = co_await socket_.async_read_some(buffer_.prepare(4096), kTuple);
      }
      auto [rec, n] = r;
      error_code ec = deadline_.done(rec);
      if (ec) {
        if (ec == beast::error::timeout) metrics.client_error(ClientError::kIdleTimeout);
        break;
      }
      buffer_.commit(n);
    }
    idle_ = false;
    auto start = std::chrono::steady_clock::now();

    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(lc.max_header_bytes));
    parser.body_limit(lc.max_body_bytes);
    deadline_.expires_after(lc.header_timeout);
    std::tuple<error_code, std::size_t> hr;
    if (tls_) {
      hr = co_await http::async_read_header(*tls_, buffer_, parser, kTuple);
    } else {
      hr = co_await http::async_read_header(socket_, buffer_, parser, kTuple);
    }
    auto [hrec, hn] = hr;
    error_code hec = deadline_.done(hrec);
    if (hec) {
      if (hec == beast::error::timeout) {
        metrics.client_error(ClientError::kHeaderTimeout);
      } else if (hec == http::error::body_limit) {
        // Beast compares Content-Length with the body limit as soon as the head is parsed.
        metrics.client_error(ClientError::kBodyTooLarge);
        Provider shape = provider_from_headers(parser.get());
        co_await send_local_reply(make_local_reply(LocalError::kBodyTooLarge, shape,
                                                   "request body exceeds max_body_bytes (" +
                                                       std::to_string(lc.max_body_bytes) + ")"),
                                  shape, "", false);
      } else if (hec == http::error::header_limit) {
        metrics.client_error(ClientError::kHeaderTooLarge);
        co_await send_local_reply(make_local_reply(LocalError::kHeadersTooLarge, Provider::kOpenAI,
                                                   "request headers exceed max_header_bytes"),
                                  Provider::kOpenAI, "", false);
      } else if (hec != http::error::end_of_stream && hec != asio::error::eof &&
                 hec != http::error::partial_message && hec != asio::error::connection_reset) {
        metrics.client_error(ClientError::kBadRequest);
        co_await send_local_reply(make_local_reply(LocalError::kBadRequest, Provider::kOpenAI,
                                                   "malformed HTTP request: " + hec.message()),
                                  Provider::kOpenAI, "", false);
      }
      break;
    }
    ClientRequest& req = parser.get();
    Provider shape = provider_from_headers(req);
    if (req.method() == http::verb::connect && !tls_) {
      // HTTPS_PROXY mode: an intercepted host goes on over TLS on this connection; any other
      // becomes a tunnel (or is refused), and the connection ends with it.
      deadline_.expires_never();
      if (co_await handle_connect(*this, req, buffer_)) continue;
      break;
    }

    std::size_t count = 0;
    for (auto it = req.begin(); it != req.end(); ++it) ++count;
    if (count > lc.max_header_count) {
      metrics.client_error(ClientError::kTooManyHeaders);
      co_await send_local_reply(make_local_reply(LocalError::kHeadersTooLarge, shape,
                                                 "more than max_header_count request headers"),
                                shape, "", false);
      break;
    }
    // Two framings for one body is the classic request-smuggling setup: a peer that reads the
    // other one would see a different request than Sluice checked.
    if (req.count(http::field::content_length) != 0 &&
        req.count(http::field::transfer_encoding) != 0) {
      metrics.client_error(ClientError::kSmuggling);
      co_await send_local_reply(make_local_reply(LocalError::kBadRequest, shape,
                                                 "Content-Length together with Transfer-Encoding"),
                                shape, "", false);
      break;
    }
    if (auto len = parser.content_length(); len && *len > lc.max_body_bytes) {
      metrics.client_error(ClientError::kBodyTooLarge);
      co_await send_local_reply(make_local_reply(LocalError::kBodyTooLarge, shape,
                                                 "request body exceeds max_body_bytes (" +
                                                     std::to_string(lc.max_body_bytes) + ")"),
                                shape, "", false);
      break;
    }
    if (!parser.is_done()) {
      auto expect = req[http::field::expect];
      if (!expect.empty() && iequals(expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!co_await write(kContinue)) break;
      }
      deadline_.expires_after(lc.body_timeout);
      std::tuple<error_code, std::size_t> br;
      if (tls_) {
        br = co_await http::async_read(*tls_, buffer_, parser, kTuple);
      } else {
        br = co_await http::async_read(socket_, buffer_, parser, kTuple);
      }
      auto [brec, bn] = br;
      error_code bec = deadline_.done(brec);
      if (bec) {
        if (bec == http::error::body_limit) {
          metrics.client_error(ClientError::kBodyTooLarge);
          co_await send_local_reply(make_local_reply(LocalError::kBodyTooLarge, shape,
                                                     "request body exceeds max_body_bytes"),
                                    shape, "", false);
        } else if (bec == beast::error::timeout) {
          metrics.client_error(ClientError::kBodyTimeout);
        } else if (bec != http::error::partial_message && bec != asio::error::eof &&
                   bec != asio::error::connection_reset) {
          metrics.client_error(ClientError::kBadRequest);
          co_await send_local_reply(make_local_reply(LocalError::kBadRequest, shape,
                                                     "malformed request body: " + bec.message()),
                                    shape, "", false);
        }
        break;
      }
    }
    deadline_.expires_never();
    bool keep = co_await handle_call(*this, req, start);
    if (!keep || !req.keep_alive()) break;
  }
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

}  // namespace sluice
