// Load generator for bench/intercept_rps.sh: keep-alive HTTPS calls to Sluice, either straight
// to its TLS listener (base-URL mode) or through it as an HTTPS_PROXY (CONNECT, then TLS with
// the certificate Sluice mints). The same code serves both modes, so the two figures differ
// only by what Sluice does; the client's own cost is in both.
//
//   intercept_load --port P [--proxy] --ca CA.pem --host api.openai.com --body FILE
//                  [--connections 32] [--warmup 1] [--duration 10]
//
// Each connection is opened (and handshaken) once before the measured window, then sends one
// POST /v1/chat/completions after another. Prints one JSON line: requests, errors and seconds
// inside the window, and rps.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Options {
  std::uint16_t port = 0;
  bool proxy = false;
  std::string ca, host = "api.openai.com", body_file;
  int connections = 32;
  double warmup = 1, duration = 10;
};

struct Totals {
  Clock::time_point window_start, window_end;
  std::uint64_t requests = 0, errors = 0, connect_errors = 0;
  int ready = 0;
};

asio::awaitable<void> client(const Options& o, asio::ssl::context& ctx, const std::string& request,
                             Totals& t) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  auto [cec] = co_await sock.async_connect({asio::ip::make_address("127.0.0.1"), o.port}, kTuple);
  if (cec) {
    ++t.connect_errors;
    co_return;
  }
  sock.set_option(tcp::no_delay(true));
  if (o.proxy) {
    std::string connect = "CONNECT " + o.host + ":443 HTTP/1.1\r\nHost: " + o.host + ":443\r\n\r\n";
    co_await asio::async_write(sock, asio::buffer(connect), kTuple);
    asio::streambuf head;
    auto [rec, n] = co_await asio::async_read_until(sock, head, "\r\n\r\n", kTuple);
    std::string line(asio::buffers_begin(head.data()), asio::buffers_begin(head.data()) + 12);
    if (rec || line != "HTTP/1.1 200" || head.size() != n) {
      ++t.connect_errors;
      co_return;
    }
  }
  asio::ssl::stream<tcp::socket&> tls(sock, ctx);
  SSL_set_tlsext_host_name(tls.native_handle(), o.host.c_str());
  tls.set_verify_callback(asio::ssl::host_name_verification(o.host));
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) {
    std::fprintf(stderr, "handshake: %s\n", hec.message().c_str());
    ++t.connect_errors;
    co_return;
  }
  ++t.ready;
  boost::beast::flat_buffer buf;
  for (;;) {
    auto sent = Clock::now();
    if (sent >= t.window_end) break;
    auto [wec, wn] = co_await asio::async_write(tls, asio::buffer(request), kTuple);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    if (wec) {
      ++t.errors;
      co_return;
    }
    auto [rec, rn] = co_await http::async_read(tls, buf, parser, kTuple);
    if (rec) {
      ++t.errors;
      co_return;
    }
    auto done = Clock::now();
    if (sent >= t.window_start && done <= t.window_end) {
      if (parser.get().result_int() == 200)
        ++t.requests;
      else
        ++t.errors;
    }
  }
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port")
      o.port = static_cast<std::uint16_t>(std::stoi(next()));
    else if (a == "--proxy")
      o.proxy = true;
    else if (a == "--ca")
      o.ca = next();
    else if (a == "--host")
      o.host = next();
    else if (a == "--body")
      o.body_file = next();
    else if (a == "--connections")
      o.connections = std::stoi(next());
    else if (a == "--warmup")
      o.warmup = std::stod(next());
    else if (a == "--duration")
      o.duration = std::stod(next());
    else {
      std::fprintf(stderr, "intercept_load: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::ifstream in(o.body_file);
  std::stringstream body;
  body << in.rdbuf();
  if (o.port == 0 || o.ca.empty() || body.str().empty()) {
    std::fprintf(stderr, "intercept_load: --port, --ca and a non-empty --body are required\n");
    return 2;
  }
  std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + o.host +
                        "\r\nAuthorization: Bearer sk-bench-0123456789\r\nContent-Type: "
                        "application/json\r\nContent-Length: " +
                        std::to_string(body.str().size()) + "\r\n\r\n" + body.str();

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(o.ca);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::io_context io(1);
  Totals t;
  auto start = Clock::now();
  t.window_start =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  t.window_end = t.window_start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.duration));
  for (int i = 0; i < o.connections; ++i)
    asio::co_spawn(io, client(o, ctx, request, t), asio::detached);
  io.run();
  double secs = std::chrono::duration<double>(t.window_end - t.window_start).count();
  std::printf(
      "{\"mode\":\"%s\",\"connections\":%d,\"ready\":%d,\"requests\":%llu,\"errors\":%llu,"
      "\"connect_errors\":%llu,\"seconds\":%.3f,\"rps\":%.1f}\n",
      o.proxy ? "https_proxy" : "tls_listener", o.connections, t.ready,
      static_cast<unsigned long long>(t.requests), static_cast<unsigned long long>(t.errors),
      static_cast<unsigned long long>(t.connect_errors), secs, t.requests / secs);
  return t.errors + t.connect_errors == 0 ? 0 : 1;
}
