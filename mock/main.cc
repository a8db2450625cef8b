// sluice-mock: a fast, deterministic mock of the OpenAI and Anthropic HTTP APIs for tests
// and benchmarks.
//
//   sluice-mock --listen 127.0.0.1:0 [--threads N] [--tls-cert F --tls-key K]
//               [--port-file F] [--record F] [--memory-records N]
//
// Prints "listening <port>" on stdout once accepting (and writes the port to --port-file).
// Stops on SIGINT / SIGTERM.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <thread>

#include "mock/mock_server.h"
#include "mock/recorder.h"

namespace {

constexpr const char* kUsage =
    "usage: sluice-mock --listen HOST:PORT [--threads N] [--tls-cert FILE --tls-key FILE]\n"
    "                   [--port-file FILE] [--record FILE] [--memory-records N]\n"
    "  --listen          address to listen on; port 0 picks a free one (default 127.0.0.1:0)\n"
    "  --threads         worker threads, each with its own acceptor (default: cores)\n"
    "  --tls-cert/-key   serve HTTPS only (TLS 1.2+) with this PEM certificate chain and key\n"
    "  --port-file       write the bound port to this file once listening\n"
    "  --record          append one JSON line per request to this file\n"
    "  --memory-records  requests kept for GET /__mock/requests (default 10000, 0 = off)\n";

bool parse_int(std::string_view s, long long& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool write_port_file(const std::string& path, unsigned port) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "%u\n", port);
  if (std::fclose(f) != 0) return false;
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using sluice::mock::MockServer;
  using sluice::mock::Recorder;
  using sluice::mock::ServerConfig;

  ServerConfig config;
  unsigned hw = std::thread::hardware_concurrency();
  config.threads = hw ? static_cast<int>(hw) : 1;
  std::string port_file, record_file;
  long long memory_records = 10000;
  std::string listen = "127.0.0.1:0";

  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sluice-mock: %s needs a value\n%s", argv[i], kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    long long n = 0;
    if (a == "--listen") {
      listen = value();
    } else if (a == "--threads") {
      if (!parse_int(value(), n) || n < 1 || n > 1024) {
        std::fprintf(stderr, "sluice-mock: bad --threads\n");
        return 2;
      }
      config.threads = static_cast<int>(n);
    } else if (a == "--tls-cert") {
      config.tls_cert = value();
    } else if (a == "--tls-key") {
      config.tls_key = value();
    } else if (a == "--port-file") {
      port_file = value();
    } else if (a == "--record") {
      record_file = value();
    } else if (a == "--memory-records") {
      if (!parse_int(value(), memory_records) || memory_records < 0) {
        std::fprintf(stderr, "sluice-mock: bad --memory-records\n");
        return 2;
      }
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "sluice-mock: unknown argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }

  auto colon = listen.rfind(':');
  long long port = 0;
  if (colon == std::string::npos || !parse_int(std::string_view(listen).substr(colon + 1), port) ||
      port < 0 || port > 65535) {
    std::fprintf(stderr, "sluice-mock: --listen wants HOST:PORT, got '%s'\n", listen.c_str());
    return 2;
  }
  config.host = listen.substr(0, colon);
  config.port = static_cast<std::uint16_t>(port);
  if (!config.tls_key.empty() && config.tls_cert.empty()) {
    std::fprintf(stderr, "sluice-mock: --tls-key needs --tls-cert\n");
    return 2;
  }

  Recorder recorder(static_cast<std::size_t>(memory_records));
  if (!record_file.empty()) {
    std::string err;
    if (!recorder.open_file(record_file, err)) {
      std::fprintf(stderr, "sluice-mock: cannot open %s: %s\n", record_file.c_str(), err.c_str());
      return 1;
    }
  }

  // Workers inherit this mask; the main thread waits for the signals below.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  MockServer server(config, recorder);
  unsigned bound = 0;
  try {
    bound = server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice-mock: cannot listen on %s: %s\n", listen.c_str(), e.what());
    return 1;
  }
  if (!port_file.empty() && !write_port_file(port_file, bound)) {
    std::fprintf(stderr, "sluice-mock: cannot write %s\n", port_file.c_str());
    return 1;
  }
  std::printf("listening %u\n", bound);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop();
  server.join();
  return 0;
}
