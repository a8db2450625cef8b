#include "mock/mock_server.h"

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>
#include <variant>
#include <vector>

#include "mock/http_framing.h"
#include "mock/router.h"

namespace sluice::mock {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;

constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t kBodyLimit = 64ull << 20;
// Beast stores a field's size in 16 bits and throws std::length_error for a longer value; a
// 64 KiB limit on the whole header keeps every field below that (431 instead).
constexpr std::uint32_t kHeaderLimit = 64u << 10;
constexpr std::size_t kWatchBufferLimit = 1u << 20;
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct Shared {
  Recorder& recorder;
  ssl::context* tls = nullptr;
};

// How a request ended: t_closed set when the peer went away before the response was done.
struct Outcome {
  std::optional<std::int64_t> t_closed;
  bool close = false;  // the connection is finished
};

bool is_http_parse_error(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

MockRequest to_mock_request(http::request<http::string_body>& msg) {
  MockRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.version = msg.version();
  req.headers.reserve(8);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    req.headers.push_back({std::move(name), std::string(f.value())});
  }
  req.body = std::move(msg.body());
  return req;
}

void hard_close(tcp::socket& sock, bool reset) {
  beast::error_code ec;
  if (reset) {
    sock.set_option(net::socket_base::linger(true, 0), ec);
  } else {
    sock.shutdown(tcp::socket::shutdown_send, ec);
  }
  sock.close(ec);
}

net::awaitable<void> graceful_close(tcp::socket& s) {
  hard_close(s, false);
  co_return;
}

net::awaitable<void> graceful_close(ssl::stream<tcp::socket>& s) {
  // Send close_notify, but do not wait long for the peer's.
  net::steady_timer timer(co_await net::this_coro::executor, std::chrono::milliseconds(200));
  co_await (s.async_shutdown(kTok) || timer.async_wait(kTok));
  hard_close(s.next_layer(), false);
}

// Writes the segments, sleeping before each one that has a delay. Returns the time of the
// failed write if the peer went away.
template <class Stream>
net::awaitable<std::optional<std::int64_t>> write_segments(Stream& stream,
                                                           const FramedResponse& fr) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (const auto& seg : fr.segments) {
    if (seg.delay_ms > 0) {
      timer.expires_after(std::chrono::milliseconds(seg.delay_ms));
      auto [ec] = co_await timer.async_wait(kTok);
      if (ec) co_return now_us();
    }
    auto [ec, n] = co_await net::async_write(stream, net::buffer(seg.bytes), kTok);
    if (ec) co_return now_us();
  }
  co_return std::nullopt;
}

// Keeps a read pending so a peer that closes while we delay is noticed at once. Bytes that
// arrive (a pipelined request) are kept in `buf` for the next parse. Returns when the peer
// closed; runs until cancelled otherwise.
template <class Stream>
net::awaitable<std::int64_t> watch_peer(Stream& stream, beast::flat_buffer& buf) {
  for (;;) {
    if (buf.size() >= kWatchBufferLimit) {
      net::steady_timer forever(co_await net::this_coro::executor,
                                net::steady_timer::time_point::max());
      co_await forever.async_wait(kTok);
      co_return 0;
    }
    auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), kTok);
    buf.commit(n);
    if (ec == net::error::operation_aborted) co_return 0;
    if (ec) co_return now_us();
  }
}

template <class Stream>
net::awaitable<Outcome> send_response(Stream& stream, beast::flat_buffer& buf,
                                      const FramedResponse& fr) {
  tcp::socket& sock = beast::get_lowest_layer(stream);
  if (fr.ending == Ending::kNoResponse) {
    hard_close(sock, false);
    co_return Outcome{std::nullopt, true};
  }
  std::optional<std::int64_t> closed;
  if (!fr.has_delays()) {
    closed = co_await write_segments(stream, fr);
  } else {
    auto r = co_await (write_segments(stream, fr) || watch_peer(stream, buf));
    closed = r.index() == 0 ? std::get<0>(r) : std::optional<std::int64_t>(std::get<1>(r));
  }
  if (closed) {
    hard_close(sock, false);
    co_return Outcome{closed, true};
  }
  switch (fr.ending) {
    case Ending::kReset:
      hard_close(sock, true);
      co_return Outcome{std::nullopt, true};
    case Ending::kCloseFin:
      hard_close(sock, false);
      co_return Outcome{std::nullopt, true};
    default:
      break;
  }
  if (fr.close_after) {
    co_await graceful_close(stream);
    co_return Outcome{std::nullopt, true};
  }
  co_return Outcome{std::nullopt, false};
}

// One connection: read a request, answer it, repeat while keep-alive.
template <class Stream>
net::awaitable<void> serve_http(Stream& stream, Shared& shared) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, kTok);
    const std::int64_t t_start = now_us();
    if (!ec && !parser.is_done()) {
      auto expect = parser.get()[http::field::expect];
      if (parser.get().version() >= 11 && beast::iequals(expect, "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [wec, wn] = co_await net::async_write(stream, net::buffer(kContinue), kTok);
        if (wec) break;
      }
      std::tie(ec, n) = co_await http::async_read(stream, buf, parser, kTok);
    }
    if (ec) {
      int status = ec == http::error::body_limit     ? 413
                   : ec == http::error::header_limit ? 431
                   : is_http_parse_error(ec)         ? 400
                                                     : 0;
      if (status) {
        std::string body = "{\"error\":{\"message\":\"" + ec.message() +
                           "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}";
        std::string resp = simple_response(status, body, true);
        co_await net::async_write(stream, net::buffer(resp), kTok);
        co_await graceful_close(stream);
      }
      break;
    }
    const bool keep_alive = parser.get().keep_alive();
    MockRequest req = to_mock_request(parser.get());

    if (is_control_request(req)) {
      FramedResponse fr =
          frame_response(control_response(req, shared.recorder), 0, keep_alive, req.version);
      Outcome out = co_await send_response(stream, buf, fr);
      if (out.close) break;
      continue;
    }
    const std::uint64_t seq = shared.recorder.next_seq();
    FramedResponse fr = frame_response(route(req), seq, keep_alive, req.version);
    Outcome out = co_await send_response(stream, buf, fr);
    shared.recorder.record(req, seq, t_start, out.t_closed);
    if (out.close) break;
  }
}

net::awaitable<void> plain_session(tcp::socket sock, Shared& shared) {
  co_await serve_http(sock, shared);
  beast::error_code ec;
  sock.close(ec);
}

net::awaitable<void> tls_session(tcp::socket sock, Shared& shared) {
  ssl::stream<tcp::socket> stream(std::move(sock), *shared.tls);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
  if (!ec) co_await serve_http(stream, shared);
  beast::error_code ignored;
  stream.next_layer().close(ignored);
}

void report_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "sluice-mock: connection failed: %s\n", ex.what());
  }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, Shared& shared) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer backoff(ex);
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(kTok);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      backoff.expires_after(std::chrono::milliseconds(10));  // e.g. EMFILE
      co_await backoff.async_wait(kTok);
      continue;
    }
    beast::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    if (shared.tls) {
      net::co_spawn(ex, tls_session(std::move(sock), shared), report_exception);
    } else {
      net::co_spawn(ex, plain_session(std::move(sock), shared), report_exception);
    }
  }
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

tcp::endpoint parse_endpoint(const std::string& host, std::uint16_t port) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty() || h == "localhost") h = "127.0.0.1";
  return tcp::endpoint(net::ip::make_address(h), port);
}

struct Worker {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
};

}  // namespace

struct MockServer::Impl {
  ServerConfig config;
  Recorder& recorder;
  std::unique_ptr<ssl::context> tls;
  std::unique_ptr<Shared> shared;
  std::vector<std::unique_ptr<Worker>> workers;
};

MockServer::MockServer(ServerConfig config, Recorder& recorder)
    : impl_(new Impl{std::move(config), recorder, nullptr, nullptr, {}}) {}

MockServer::~MockServer() {
  stop();
  join();
}

std::uint16_t MockServer::start() {
  Impl& s = *impl_;
  if (!s.config.tls_cert.empty()) {
    s.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(s.tls->native_handle(), TLS1_2_VERSION);
    s.tls->set_options(ssl::context::default_workarounds | ssl::context::single_dh_use);
    s.tls->use_certificate_chain_file(s.config.tls_cert);
    s.tls->use_private_key_file(s.config.tls_key.empty() ? s.config.tls_cert : s.config.tls_key,
                                ssl::context::pem);
    SSL_CTX_set_alpn_select_cb(s.tls->native_handle(), select_http11, nullptr);
  }
  s.shared = std::make_unique<Shared>(Shared{s.recorder, s.tls.get()});

  tcp::endpoint ep = parse_endpoint(s.config.host, s.config.port);
  const int n = s.config.threads < 1 ? 1 : s.config.threads;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->acceptor.open(ep.protocol());
    w->acceptor.set_option(tcp::acceptor::reuse_address(true));
    w->acceptor.set_option(reuse_port(true));
    w->acceptor.bind(ep);
    w->acceptor.listen(net::socket_base::max_listen_connections);
    if (i == 0) ep.port(w->acceptor.local_endpoint().port());
    s.workers.push_back(std::move(w));
  }
  for (auto& w : s.workers) {
    net::co_spawn(w->ioc, accept_loop(w->acceptor, *s.shared), report_exception);
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      for (;;) {
        try {
          wp->ioc.run();
          return;
        } catch (const std::exception& e) {  // keep serving the other connections
          std::fprintf(stderr, "sluice-mock: %s\n", e.what());
        }
      }
    });
  }
  return ep.port();
}

void MockServer::stop() {
  for (auto& w : impl_->workers) w->ioc.stop();
}

void MockServer::join() {
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sluice::mock
