// The server: worker threads with their SO_REUSEPORT acceptors, the admin listener, signal
// handling and graceful drain.
//
// With intercept.transparent_address set, every worker also accepts iptables-redirected
// connections there (transparent mode, proxy/intercept/transparent.h), with its own
// SO_REUSEPORT acceptor.
//
// start() binds every socket before it returns (bind errors throw std::runtime_error naming
// the address), so a caller that gets past start() knows the ports are open. SIGHUP reloads
// the configuration (see reload.h) when a reloader is set. SIGTERM/SIGINT begin a drain: /readyz
// turns 503, acceptors close, idle keep-alive connections close, calls in flight run to completion
// (their connections close after the response) until listener.drain_timeout, then whatever remains
// is cut and the workers stop.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics.h"
#include "proxy/reload.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"
#include "sinks/sink.h"

namespace sluice {

class Server {
 public:
  Server(std::shared_ptr<const Runtime> runtime, SinkSet& sinks);
  ~Server();

  // Enables SIGHUP and POST /admin/reload. Call before start().
  void set_reloader(std::unique_ptr<Reloader> reloader);
  Reloader* reloader() { return reloader_.get(); }
  SharedState& shared() { return shared_; }

  void start();
  // Blocks until the server has stopped (after a drain).
  void wait();
  // Starts the drain from any thread (also what the signals do).
  void request_stop();

  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  std::uint16_t transparent_port() const { return transparent_port_; }  // 0: none
  ProxyMetrics& metrics() { return *metrics_; }

 private:
  void run_worker(Worker& w);
  void drain();
  // `transparent`: the acceptor of intercept.transparent_address.
  boost::asio::awaitable<void> accept_loop(Worker& w, boost::asio::ip::tcp::acceptor& acceptor,
                                           bool transparent);
  boost::asio::awaitable<void> admin_loop(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> drain_watch();
  boost::asio::awaitable<void> signal_loop();

  SharedState shared_;
  std::unique_ptr<Reloader> reloader_;
  std::unique_ptr<ProxyMetrics> metrics_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> transparent_acceptors_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> admin_acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_requested_{false};
  std::chrono::steady_clock::time_point started_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::uint16_t transparent_port_ = 0;
};

}  // namespace sluice
