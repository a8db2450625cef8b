// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-28T01:02:03.456Z","level":"info","msg":"listening","address":"127.0.0.1:8080"}
// Values are escaped; callers must never pass keys or request content (fingerprints only).
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace sluice {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void set_log_level(LogLevel level);
LogLevel parse_log_level(std::string_view s);  // "debug", "info", "warn", "error"
bool log_enabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// Rate-limited variant: at most one line per `key` per second (hot error paths).
void log_throttled(LogLevel level, std::string_view key, std::string_view msg,
                   std::initializer_list<LogField> fields = {});

}  // namespace sluice
