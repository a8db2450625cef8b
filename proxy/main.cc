// sluice: the command line. See `sluice --help`.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

#include "conf/config_loader.h"
#include "conf/key_fingerprint.h"
#include "proxy/intercept/cert_authority.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "sinks/jsonl/jsonl_sink.h"
#include "sinks/kafka/kafka_sink.h"
#include "sluice_version.h"

namespace {

constexpr const char* kUsage = R"(usage:
  sluice [--config FILE] [--listen HOST:PORT] [--admin-listen HOST:PORT]
         [--workers N] [--ready-file FILE]
      Run the proxy. Without --config, runs on the embedded defaults (conf/sluice.yaml).
      --ready-file writes {"listen":...,"admin":...,"port":...,"admin_port":...,
      "transparent_port":... (0: none),"pid":...} once the sockets are open.
  sluice check-config FILE
      Validate FILE; print every error as file:line:col: key: message. Exit 0 when valid.
  sluice ca init [--dir DIR] [--cn NAME] [--force]
      Create the CA that HTTPS interception signs its certificates with: DIR/ca.pem (give it
      to clients: SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, the system store) and
      DIR/ca-key.pem (mode 0600; never printed). DIR defaults to ./sluice-ca. An existing key
      is kept unless --force.
  sluice fingerprint KEY|-
      Print the fingerprint events use for KEY (first 16 hex digits of its SHA-256);
      "-" reads the key from standard input.
  sluice --version | --help

exit status: 0 success, 1 runtime error, 2 usage or configuration error
)";

// Errors that do not carry a file:line position yet get the file's name.
std::string with_file(const std::string& file, const std::string& error) {
  return error.rfind(file + ":", 0) == 0 ? error : file + ": " + error;
}

// sinks.kafka as the sink's own settings (sinks/ does not depend on conf/).
sluice::KafkaSinkConfig kafka_sink_config(const sluice::KafkaSinkSettings& k) {
  sluice::KafkaSinkConfig c;
  c.bootstrap_servers = k.bootstrap_servers;
  c.events_topic = k.events_topic;
  c.alerts_topic = k.alerts_topic;
  c.client_id = k.client_id;
  c.properties = k.properties;
  c.property_locations = k.property_locations;
  c.message_timeout = k.message_timeout;
  c.linger = k.linger;
  sluice::SpoolConfig& sp = c.writer.spool;
  sp.dir = k.spool_dir;
  sp.max_bytes = k.spool_max_bytes;
  sp.segment_bytes = k.spool_segment_bytes;
  sp.fsync = k.fsync == sluice::KafkaSinkSettings::Fsync::kAlways  ? sluice::FsyncPolicy::kAlways
             : k.fsync == sluice::KafkaSinkSettings::Fsync::kNever ? sluice::FsyncPolicy::kNever
                                                                   : sluice::FsyncPolicy::kInterval;
  sp.fsync_interval = k.fsync_interval;
  sp.full_policy = k.full_policy == sluice::KafkaSinkSettings::FullPolicy::kFailClosed
                       ? sluice::FullPolicy::kFailClosed
                       : sluice::FullPolicy::kDropNewest;
  c.writer.max_queue_records = k.max_queue_records;
  return c;
}

int ca_command(int argc, char** argv, int i) {
  if (i >= argc || std::string(argv[i]) != "init") {
    std::cerr << "sluice: ca needs a subcommand: ca init [--dir DIR] [--cn NAME] [--force]\n";
    return 2;
  }
  std::string dir = "sluice-ca", cn = "Sluice interception CA";
  bool force = false;
  for (++i; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--dir" || a == "--cn") && i + 1 < argc) {
      (a == "--dir" ? dir : cn) = argv[++i];
    } else if (a == "--force") {
      force = true;
    } else {
      std::cerr << "sluice: ca init: unknown argument " << a << "\n";
      return 2;
    }
  }
  try {
    auto files = sluice::intercept::init_ca(dir, cn, force);
    std::cout << "CA certificate: " << files.cert_path << "\nCA key (0600):  " << files.key_path
              << "\nTrust the certificate in clients, e.g. SSL_CERT_FILE=" << files.cert_path << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice: ca init: " << e.what() << "\n";
    return 1;
  }
}

int check_config(const std::string& path) {
  auto load = sluice::load_config_file(path);
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) std::cerr << e << "\n";
    std::cerr << path << ": " << load.errors.size() << " error(s)\n";
    return 2;
  }
  try {
    sluice::Runtime rt(load.config);
  } catch (const std::exception& e) {
    std::cerr << path << ": " << e.what() << "\n";
    return 2;
  }
  if (load.config->kafka.enabled) {
    auto kafka_errors = sluice::check_kafka_config(kafka_sink_config(load.config->kafka));
    for (const auto& e : kafka_errors) std::cerr << with_file(path, e) << "\n";
    if (!kafka_errors.empty()) return 2;
  }
  std::cout << path << ": ok\n";
  return 0;
}

bool parse_endpoint_arg(const std::string& s, sluice::Endpoint& out) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  try {
    int port = std::stoi(s.substr(colon + 1));
    if (port < 0 || port > 65535) return false;
    out.host = s.substr(0, colon);
    if (!out.host.empty() && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
    out.port = static_cast<std::uint16_t>(port);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, ready_file, listen, admin_listen;
  int workers = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "sluice: " << a << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--version") {
      std::cout << "sluice " << sluice::kSluiceVersion << "\n";
      return 0;
    } else if (a == "check-config") {
      if (i + 1 >= argc) {
        std::cerr << "sluice: check-config needs a FILE\n";
        return 2;
      }
      return check_config(argv[i + 1]);
    } else if (a == "ca") {
      return ca_command(argc, argv, i + 1);
    } else if (a == "fingerprint") {
      if (i + 1 >= argc) {
        std::cerr << "sluice: fingerprint needs a KEY or -\n";
        return 2;
      }
      std::string key = argv[i + 1];
      if (key == "-") std::getline(std::cin, key);
      std::cout << sluice::key_fingerprint(key) << "\n";
      return 0;
    } else if (a == "--config" || a == "-c") {
      config_path = value();
    } else if (a == "--listen") {
      listen = value();
    } else if (a == "--admin-listen") {
      admin_listen = value();
    } else if (a == "--workers") {
      workers = std::atoi(value().c_str());
    } else if (a == "--ready-file") {
      ready_file = value();
    } else {
      std::cerr << "sluice: unknown argument " << a << "\n" << kUsage;
      return 2;
    }
  }

  auto load = config_path.empty()
                  ? sluice::load_config_text(sluice::embedded_default_config(), "<embedded conf/sluice.yaml>")
                  : sluice::load_config_file(config_path);
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) std::cerr << e << "\n";
    return 2;
  }
  auto cfg = std::make_shared<sluice::Config>(*load.config);
  if (!listen.empty() && !parse_endpoint_arg(listen, cfg->listener.address)) {
    std::cerr << "sluice: --listen expects HOST:PORT\n";
    return 2;
  }
  if (!admin_listen.empty() && !parse_endpoint_arg(admin_listen, cfg->listener.admin_address)) {
    std::cerr << "sluice: --admin-listen expects HOST:PORT\n";
    return 2;
  }
  if (workers >= 0) cfg->listener.workers = workers;
  sluice::set_log_level(sluice::parse_log_level(cfg->log.level));

  // Writes to a closed client socket must fail with EPIPE, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Block the shutdown signals in every thread; asio's signal_set receives them.
  sigset_t set;
  sigemptyset(&set);

  try {
    auto runtime = std::make_shared<sluice::Runtime>(cfg);
    sluice::SinkSet sinks;
    if (cfg->jsonl.enabled) {
      sluice::JsonlSinkConfig jc;
      jc.events_path = cfg->jsonl.events_path;
      jc.alerts_path = cfg->jsonl.alerts_path;
      jc.max_queue_records = cfg->jsonl.max_queue_records;
      sinks.add(std::make_unique<sluice::JsonlSink>(jc));
    }
    if (cfg->kafka.enabled) {
      // Bad librdkafka settings are a configuration error (exit 2), reported like the
      // loader's; the sink never waits for a broker here.
      auto kc = kafka_sink_config(cfg->kafka);
      auto kafka_errors = sluice::check_kafka_config(kc);
      if (!kafka_errors.empty()) {
        for (const auto& e : kafka_errors) std::cerr << with_file(cfg->source_file, e) << "\n";
        return 2;
      }
      sinks.add(std::make_unique<sluice::KafkaSink>(std::move(kc)));
    }
    sluice::Server server(runtime, sinks);
    // SIGHUP and POST /admin/reload read the same file again (listener settings as the file
    // had them, to report which changes need a restart).
    server.set_reloader(std::make_unique<sluice::Reloader>(server.shared(), config_path,
                                                           load.config->listener));
    server.start();
    std::string addr = cfg->listener.address.host + ":" + std::to_string(server.port());
    std::string admin = cfg->listener.admin_address.host + ":" + std::to_string(server.admin_port());
    sluice::log(sluice::LogLevel::kInfo, "listening",
                {{"address", addr}, {"admin", admin}, {"config", cfg->source_file},
                 {"version", sluice::kSluiceVersion}});
    if (server.transparent_port() != 0)
      sluice::log(sluice::LogLevel::kInfo, "transparent listener",
                  {{"address", cfg->intercept.transparent_address->host + ":" +
                                   std::to_string(server.transparent_port())}});
    if (!ready_file.empty()) {
      std::string tmp = ready_file + ".tmp";
      {
        std::ofstream out(tmp);
        out << "{\"listen\":\"" << addr << "\",\"admin\":\"" << admin << "\",\"port\":"
            << server.port() << ",\"admin_port\":" << server.admin_port()
            << ",\"transparent_port\":" << server.transparent_port() << ",\"pid\":" << getpid()
            << "}\n";
      }
      std::rename(tmp.c_str(), ready_file.c_str());
    }
    server.wait();
    // Unacknowledged Kafka records stay in the spool for the next start.
    sinks.stop(std::chrono::steady_clock::now() +
               (cfg->kafka.enabled ? cfg->kafka.shutdown_timeout : std::chrono::milliseconds(5000)));
    sluice::log(sluice::LogLevel::kInfo, "stopped");
  } catch (const std::exception& e) {
    sluice::log(sluice::LogLevel::kError, "fatal", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
