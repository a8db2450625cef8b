#include "proxy/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>

#include "filters/limits_store/redis_store.h"
#include "proxy/admin.h"
#include "proxy/connection.h"
#include "proxy/log.h"
#include "proxy/memory_release.h"

namespace sluice {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Worker::Worker(int id, SharedState& shared)
    : id_(id), shared_(shared), pool_(io_->get_executor(), *shared.metrics, deadlines_) {}

Worker::~Worker() {
  // Idle pooled connections first (their sockets belong to io_), then io_ with every
  // coroutine still suspended in it (their connections unregister from conns_ and deadlines_).
  pool_.close_all();
  io_.reset();
}

void Worker::begin_drain() {
  // Copy: closing a connection may remove it from the list while we iterate.
  std::vector<ClientConnection*> conns(conns_.begin(), conns_.end());
  for (auto* c : conns) c->close_if_idle();
}

namespace {
tcp::endpoint resolve_endpoint(const Endpoint& e) {
  error_code ec;
  auto addr = asio::ip::make_address(e.host == "localhost" ? "127.0.0.1" : e.host, ec);
  if (ec) throw std::runtime_error("listen address must be an IP address, got \"" + e.host + "\"");
  return {addr, e.port};
}

std::unique_ptr<tcp::acceptor> bind_acceptor(asio::io_context& io, const tcp::endpoint& ep,
                                             bool reuse_port) {
  auto a = std::make_unique<tcp::acceptor>(io);
  error_code ec;
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && reuse_port) {
    int one = 1;
    if (::setsockopt(a->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      ec = error_code(errno, boost::system::system_category());
  }
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + ep.address().to_string() + ":" +
                             std::to_string(ep.port()) + ": " + ec.message());
  }
  return a;
}
}  // namespace

Server::Server(std::shared_ptr<const Runtime> runtime, SinkSet& sinks) {
  const auto& lc = runtime->config().listener;
  int n = lc.workers > 0 ? lc.workers
                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  metrics_ = std::make_unique<ProxyMetrics>(n);
  shared_.metrics = metrics_.get();
  shared_.sinks = &sinks;
  shared_.runtime.set(std::move(runtime));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(i, shared_));
}

Server::~Server() {
  request_stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Server::start() {
  started_ = std::chrono::steady_clock::now();
  const auto& lc = shared_.runtime.get()->config().listener;
  tcp::endpoint ep = resolve_endpoint(lc.address);
  // Port 0: the first acceptor picks a port; the others then join it with SO_REUSEPORT.
  for (auto& w : workers_) {
    acceptors_.push_back(bind_acceptor(w->io(), ep, true));
    if (ep.port() == 0) ep.port(acceptors_.back()->local_endpoint().port());
  }
  port_ = ep.port();
  if (const auto& ta = shared_.runtime.get()->config().intercept.transparent_address) {
    tcp::endpoint tep = resolve_endpoint(*ta);
    for (auto& w : workers_) {
      transparent_acceptors_.push_back(bind_acceptor(w->io(), tep, true));
      if (tep.port() == 0) tep.port(transparent_acceptors_.back()->local_endpoint().port());
    }
    transparent_port_ = tep.port();
  }
  admin_acceptor_ = bind_acceptor(workers_[0]->io(), resolve_endpoint(lc.admin_address), false);
  admin_port_ = admin_acceptor_->local_endpoint().port();

  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::co_spawn(workers_[i]->io(), accept_loop(*workers_[i], *acceptors_[i], false),
                   asio::detached);
  }
  for (std::size_t i = 0; i < transparent_acceptors_.size(); ++i) {
    asio::co_spawn(workers_[i]->io(), accept_loop(*workers_[i], *transparent_acceptors_[i], true),
                   asio::detached);
  }
  asio::co_spawn(workers_[0]->io(), admin_loop(*admin_acceptor_), asio::detached);

  asio::co_spawn(workers_[0]->io(), signal_loop(), asio::detached);
  for (auto& w : workers_) {
    Worker* wp = w.get();
    threads_.emplace_back([this, wp] { run_worker(*wp); });
  }
}

void Server::set_reloader(std::unique_ptr<Reloader> reloader) {
  reloader_ = std::move(reloader);
  shared_.reloader = reloader_.get();
}

asio::awaitable<void> Server::signal_loop() {
  asio::signal_set signals(workers_[0]->io(), SIGTERM, SIGINT, SIGHUP);
  for (;;) {
    auto [ec, sig] = co_await signals.async_wait(kTuple);
    if (ec) co_return;
    if (sig == SIGHUP) {
      // A reload reads a file and builds TLS contexts: milliseconds on this worker's loop,
      // rarely. The outcome is logged and counted by the reloader.
      if (reloader_) {
        reloader_->reload();
      } else {
        log(LogLevel::kWarn, "SIGHUP ignored: no configuration to reload");
      }
      continue;
    }
    log(LogLevel::kInfo, "signal received, draining",
        {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    request_stop();
    co_return;
  }
}

void Server::run_worker(Worker& w) {
  // The deadline ticker (and pool sweep) doubles as the io_context's keep-alive work.
  asio::co_spawn(
      w.io(),
      [&w]() -> asio::awaitable<void> {
        asio::steady_timer t(w.io());
        auto next_sweep = std::chrono::steady_clock::now();
        // Runs until the io_context stops: deadlines keep firing while connections drain.
        for (;;) {
          t.expires_after(DeadlineList::kTick);
          co_await t.async_wait(kTuple);
          auto now = std::chrono::steady_clock::now();
          w.deadlines().tick(now);
          if (now >= next_sweep) {
            w.pool().sweep();
            if (w.id() == 0) release_free_memory();
            next_sweep = now + std::chrono::seconds(1);
          }
        }
      },
      asio::detached);
  for (;;) {
    try {
      w.io().run();
      break;
    } catch (const std::exception& e) {
      // A bug in one connection must not take the worker down with every other connection.
      log(LogLevel::kError, "uncaught exception in worker", {{"what", e.what()}});
    }
  }
}

asio::awaitable<void> Server::accept_loop(Worker& w, tcp::acceptor& acceptor, bool transparent) {
  const auto kind =
      transparent ? ClientConnection::Kind::kTransparent : ClientConnection::Kind::kApi;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      log_throttled(LogLevel::kWarn, "accept", "accept failed", {{"error", ec.message()}});
      asio::steady_timer t(w.io(), std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    error_code sec;
    socket.set_option(tcp::no_delay(true), sec);
    asio::co_spawn(
        w.io(),
        [&w, kind, s = std::move(socket)]() mutable -> asio::awaitable<void> {
          ClientConnection conn(w, std::move(s), kind);
          co_await conn.run();
        },
        [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log_throttled(LogLevel::kError, "conn-exception", "connection failed",
                          {{"what", ex.what()}});
          }
        });
  }
}

asio::awaitable<void> Server::admin_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    AdminContext actx{&shared_, metrics_.get(), started_, static_cast<int>(workers_.size())};
    asio::co_spawn(acceptor.get_executor(), serve_admin(std::move(socket), actx), asio::detached);
  }
}

void Server::request_stop() {
  if (stop_requested_.exchange(true)) return;
  if (workers_.empty()) return;
  asio::co_spawn(workers_[0]->io(), drain_watch(), asio::detached);
}

asio::awaitable<void> Server::drain_watch() {
  shared_.draining.store(true);
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::post(workers_[i]->io(), [this, i] {
      error_code ec;
      acceptors_[i]->close(ec);
      if (i < transparent_acceptors_.size()) transparent_acceptors_[i]->close(ec);
      workers_[i]->begin_drain();
    });
  }
  auto rt = shared_.runtime.get();
  auto deadline = std::chrono::steady_clock::now() + rt->config().listener.drain_timeout;
  asio::steady_timer t(workers_[0]->io());
  // Then the settlements of the calls that ended (the Redis limits store sends them in
  // batches, after the call): stopping before they are answered would leave their spend
  // unrecorded, the reservations expiring instead.
  auto busy = [this] {
    return metrics_->connections_active.load() > 0 ||
           limits::redis_batch_stats().settlements_pending > 0;
  };
  while (std::chrono::steady_clock::now() < deadline && busy()) {
    // Connections that became idle since the last pass close now.
    for (auto& w : workers_) asio::post(w->io(), [wp = w.get()] { wp->begin_drain(); });
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(kTuple);
  }
  if (busy()) {
    log(LogLevel::kWarn, "drain deadline passed, cutting remaining connections",
        {{"connections", std::to_string(metrics_->connections_active.load())},
         {"settlements_pending",
          std::to_string(limits::redis_batch_stats().settlements_pending)}});
  }
  error_code ec;
  admin_acceptor_->close(ec);
  for (auto& w : workers_) w->io().stop();
}

void Server::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace sluice
