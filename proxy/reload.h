// Hot reload of sluice.yaml (SIGHUP or POST /admin/reload).
//
// Contract
//  * The new file is loaded and validated whole, and its Runtime (TLS contexts, key index,
//    filter chains) is built, before anything changes; any error refuses the reload, is
//    logged and counted, and the running configuration keeps serving.
//  * On success new calls use the new snapshot; calls in flight finish on the one they started
//    with (they hold a shared_ptr to it). Filter, limit and sink counters live outside the
//    snapshot and carry on. Listening sockets stay open.
//  * Settings that need a restart — listener.address, listener.admin_address,
//    listener.workers, and every sinks.* setting — keep their running values; a reload that
//    changes one of the listener settings reports it in `restart_required` (sinks are not
//    compared: docs/operations.md says they always need a restart).
//  * Reloads are serialized (one at a time); callable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "conf/config.h"

namespace sluice {

struct SharedState;

struct ReloadOutcome {
  bool ok = false;
  std::string source;                         // file name, or the embedded defaults
  std::vector<std::string> errors;            // file:line:col: key: message
  std::vector<std::string> restart_required;  // settings changed in the file but not applied
  std::string to_json() const;
};

class Reloader {
 public:
  // `path`: the file to read again ("" = the embedded defaults). `file_listener`: the listener
  // settings as the file had them at start (before command-line overrides), to tell which
  // restart-only settings a new version of the file changes.
  Reloader(SharedState& shared, std::string path, ListenerConfig file_listener);

  ReloadOutcome reload();

  std::uint64_t succeeded() const { return ok_.load(std::memory_order_relaxed); }
  std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  // Prometheus lines: sluice_config_reloads_total{result="ok|error"}.
  void render_metrics(std::string& out) const;

 private:
  SharedState& shared_;
  const std::string path_;
  ListenerConfig file_listener_;  // guarded by mu_
  std::mutex mu_;
  std::atomic<std::uint64_t> ok_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace sluice
