// A worker: one thread, one io_context, one SO_REUSEPORT acceptor, one upstream pool.
// A client connection lives on one worker for its whole life, so nothing on the call path is
// shared with another thread except the read-only Runtime, atomics and the sinks' queues.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <list>
#include <memory>

#include "proxy/io_deadline.h"
#include "proxy/metrics.h"
#include "proxy/runtime.h"
#include "proxy/upstream.h"
#include "sinks/sink.h"

namespace sluice {

class ClientConnection;
class Reloader;

struct SharedState {
  RuntimeHolder runtime;
  ProxyMetrics* metrics = nullptr;
  SinkSet* sinks = nullptr;
  Reloader* reloader = nullptr;  // null: reload unavailable
  std::atomic<bool> draining{false};
};

class Worker {
 public:
  Worker(int id, SharedState& shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int id() const { return id_; }
  boost::asio::io_context& io() { return *io_; }
  DeadlineList& deadlines() { return deadlines_; }
  UpstreamPool& pool() { return pool_; }
  SharedState& shared() { return shared_; }
  ProxyMetrics& metrics() { return *shared_.metrics; }

  // Connection registry, touched only on this worker's thread.
  std::list<ClientConnection*>::iterator add(ClientConnection* c) { return conns_.insert(conns_.end(), c); }
  void remove(std::list<ClientConnection*>::iterator it) { conns_.erase(it); }
  // Closes idle keep-alive connections now; busy ones close after their current call.
  void begin_drain();
  std::size_t connections() const { return conns_.size(); }

 private:
  int id_;
  SharedState& shared_;
  // Declared before io_: connections still suspended in io_ unregister from these when the
  // destructor destroys io_.
  DeadlineList deadlines_;
  std::list<ClientConnection*> conns_;
  // One thread runs this context, and only that thread touches its sockets, so the reactor's
  // per-descriptor locking is switched off; other threads may still post() to it.
  std::unique_ptr<boost::asio::io_context> io_ =
      std::make_unique<boost::asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  UpstreamPool pool_;
};

}  // namespace sluice
