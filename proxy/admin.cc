#include "proxy/admin.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <openssl/crypto.h>

#include "filters/limits_store/redis_store.h"
#include "filters/limits_store/usage.h"
#include "filters/registry.h"
#include "proxy/reload.h"
#include "proxy/worker.h"
#include "sluice_version.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {
bool token_ok(std::string_view header, const std::string& token) {
  if (token.empty() || header.size() != token.size() + 7 || header.substr(0, 7) != "Bearer ")
    return false;
  return CRYPTO_memcmp(header.data() + 7, token.data(), token.size()) == 0;
}
// The /admin/* gate: 404 when no token is configured, 401 without the right one. True when
// the request may go on; otherwise `res` holds the refusal.
template <typename Request, typename Response>
bool admin_allowed(const Request& req, const std::string& token, Response& res) {
  if (token.empty()) {
    res.result(http::status::not_found);
    res.body() = "admin endpoints are off: set listener.admin_token\n";
    return false;
  }
  if (!token_ok(req[http::field::authorization], token)) {
    res.result(http::status::unauthorized);
    res.body() = "admin token required\n";
    return false;
  }
  return true;
}
}  // namespace

asio::awaitable<void> serve_admin(asio::ip::tcp::socket socket, AdminContext ctx) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec) break;
    auto& req = parser.get();
    http::response<http::string_body> res;
    res.version(11);
    res.keep_alive(req.keep_alive());
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    auto rt = ctx.shared->runtime.get();
    bool draining = ctx.shared->draining.load();
    const std::string& token = rt->config().listener.admin_token;
    if (target == "/admin/reload") {
      if (!admin_allowed(req, token, res)) {
        // refused: 404 or 401
      } else if (req.method() != http::verb::post) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "POST");
        res.body() = "POST to reload\n";
      } else if (ctx.shared->reloader == nullptr) {
        res.result(http::status::not_found);
        res.body() = "reload is not available\n";
      } else {
        ReloadOutcome r = ctx.shared->reloader->reload();
        // 422: the file is there but refused; the running configuration stays.
        res.result(r.ok ? http::status::ok : http::status::unprocessable_entity);
        res.set(http::field::content_type, "application/json");
        res.body() = r.to_json() + "\n";
      }
    } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "method not allowed\n";
    } else if (target == "/healthz") {
      res.result(http::status::ok);
      res.body() = "ok\n";
    } else if (target == "/readyz") {
      res.result(draining ? http::status::service_unavailable : http::status::ok);
      res.body() = draining ? "draining\n" : "ready\n";
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      std::string out;
      out.reserve(16384);
      ctx.metrics->render(out);
      render_filter_metrics(out);
      limits::render_redis_metrics(out);
      ctx.shared->sinks->render_metrics(out);
      if (ctx.shared->reloader != nullptr) ctx.shared->reloader->render_metrics(out);
      res.body() = std::move(out);
    } else if (target == "/admin/status") {
      if (admin_allowed(req, token, res)) {
        auto up = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - ctx.started).count();
        res.result(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = std::string("{\"version\":\"") + kSluiceVersion + "\",\"uptime_s\":" +
                     std::to_string(up) + ",\"workers\":" + std::to_string(ctx.workers) +
                     ",\"draining\":" + (draining ? "true" : "false") +
                     ",\"connections\":" + std::to_string(ctx.metrics->connections_active.load()) +
                     ",\"calls_active\":" + std::to_string(ctx.metrics->calls_active.load()) +
                     ",\"sinks_ready\":" + (ctx.shared->sinks->ready() ? "true" : "false") +
                     ",\"sinks\":" + ctx.shared->sinks->status_json() + "}\n";
      }
    } else if (target == "/admin/usage") {
      if (admin_allowed(req, token, res)) {
        res.result(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = co_await limits::limits_usage_json(co_await asio::this_coro::executor) + "\n";
      }
    } else {
      res.result(http::status::not_found);
      res.body() = "not found\n";
    }
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace sluice
