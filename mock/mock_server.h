// The mock's network side: N threads, each with its own io_context and SO_REUSEPORT
// acceptor on the same port; one C++20 coroutine per connection (HTTP/1.1 keep-alive,
// optional TLS). Responses come from router.h; requests are recorded by a Recorder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mock/recorder.h"

namespace sluice::mock {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: pick a free port
  int threads = 1;
  std::string tls_cert;  // PEM chain; when set the server speaks HTTPS only
  std::string tls_key;   // PEM private key
};

class MockServer {
 public:
  MockServer(ServerConfig config, Recorder& recorder);
  ~MockServer();
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  // Opens and binds every thread's acceptor and starts the threads; returns the bound port.
  // Throws std::exception on failure (bad address, port in use, unreadable cert).
  std::uint16_t start();
  // Stops accepting and serving; join() then waits for the threads.
  void stop();
  void join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::mock
