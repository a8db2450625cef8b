#include "proxy/reload.h"

#include <exception>

#include "conf/config_loader.h"
#include "proxy/log.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"
#include "sinks/json_writer.h"

namespace sluice {

namespace {
std::string endpoint_text(const Endpoint& e) { return e.host + ":" + std::to_string(e.port); }
}  // namespace

std::string ReloadOutcome::to_json() const {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member_bool("ok", ok);
  w.member("source", source);
  w.key("errors");
  w.begin_array();
  for (const auto& e : errors) w.string(e);
  w.end_array();
  w.key("restart_required");
  w.begin_array();
  for (const auto& r : restart_required) w.string(r);
  w.end_array();
  w.end_object();
  return out;
}

Reloader::Reloader(SharedState& shared, std::string path, ListenerConfig file_listener)
    : shared_(shared), path_(std::move(path)), file_listener_(std::move(file_listener)) {}

ReloadOutcome Reloader::reload() {
  std::lock_guard lock(mu_);
  ReloadOutcome r;
  r.source = path_.empty() ? "<embedded conf/sluice.yaml>" : path_;
  ConfigLoad load = path_.empty() ? load_config_text(embedded_default_config(), r.source)
                                  : load_config_file(path_);
  if (!load.errors.empty()) {
    r.errors = std::move(load.errors);
  } else {
    auto running = shared_.runtime.get();
    auto next = std::make_shared<Config>(*load.config);
    const ListenerConfig& now = running->config().listener;
    const ListenerConfig& file = next->listener;
    if (endpoint_text(file.address) != endpoint_text(file_listener_.address))
      r.restart_required.push_back("listener.address");
    if (endpoint_text(file.admin_address) != endpoint_text(file_listener_.admin_address))
      r.restart_required.push_back("listener.admin_address");
    if (file.workers != file_listener_.workers) r.restart_required.push_back("listener.workers");
    // The transparent listener is bound at start only; the running value is what was bound.
    const auto& bound = running->config().intercept.transparent_address;
    const auto& wanted = next->intercept.transparent_address;
    if (bound.has_value() != wanted.has_value() ||
        (bound && endpoint_text(*bound) != endpoint_text(*wanted)))
      r.restart_required.push_back("intercept.transparent_address");
    next->intercept.transparent_address = bound;
    // What the sockets and threads really are (command-line overrides included) stays.
    next->listener.address = now.address;
    next->listener.admin_address = now.admin_address;
    next->listener.workers = now.workers;
    try {
      const std::string level = next->log.level;
      auto runtime = std::make_shared<const Runtime>(std::move(next));
      shared_.runtime.set(std::move(runtime));
      set_log_level(parse_log_level(level));
      r.ok = true;
    } catch (const std::exception& e) {
      r.errors.push_back(r.source + ": " + e.what());
    }
  }
  if (r.ok) {
    ok_.fetch_add(1, std::memory_order_relaxed);
    std::string restart;
    for (const auto& s : r.restart_required) restart += (restart.empty() ? "" : ",") + s;
    log(LogLevel::kInfo, "configuration reloaded",
        {{"source", r.source}, {"restart_required", restart}});
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    std::string first = r.errors.empty() ? "" : r.errors.front();
    log(LogLevel::kError, "configuration reload refused; the running configuration stays",
        {{"source", r.source},
         {"errors", std::to_string(r.errors.size())},
         {"first_error", first}});
  }
  return r;
}

void Reloader::render_metrics(std::string& out) const {
  out += "# HELP sluice_config_reloads_total Configuration reloads by result.\n";
  out += "# TYPE sluice_config_reloads_total counter\n";
  out += "sluice_config_reloads_total{result=\"ok\"} " + std::to_string(succeeded()) + "\n";
  out += "sluice_config_reloads_total{result=\"error\"} " + std::to_string(failed()) + "\n";
}

}  // namespace sluice
