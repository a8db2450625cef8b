// Budget windows: calendar days and months in a time zone, or fixed-length windows.
//
// Time zones are read from the system's compiled tz database (TZif files under
// /usr/share/zoneinfo, Debian's tzdata): offsets and DST transitions as published there
// (Debian ships "fat" files with explicit transitions up to 2037; after the last one the
// last offset is used). "UTC" needs no file.
//
// A day window starts at local midnight; a month window at local midnight of the 1st. A
// fixed window of length D starts at a multiple of D since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::limits {

class TimeZone {
 public:
  // Loads `name` ("UTC", "Europe/Paris", ...); nullopt with `error` set when it cannot.
  static std::optional<TimeZone> load(const std::string& name, std::string& error,
                                      const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  static TimeZone utc();
  // Parses TZif bytes (for tests).
  static std::optional<TimeZone> parse(const std::string& name, const std::string& tzif,
                                       std::string& error);

  // Offset from UTC, in seconds, at the Unix time `t` (seconds).
  std::int64_t offset_at(std::int64_t t) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_ = "UTC";
  std::vector<std::int64_t> transitions_;  // Unix seconds, ascending
  std::vector<std::int32_t> offsets_;      // offset in effect from transitions_[i]
  std::int32_t initial_offset_ = 0;        // before the first transition
};

enum class WindowKind : std::uint8_t { kNone, kDay, kMonth, kFixed };

struct WindowSpec {
  WindowKind kind = WindowKind::kNone;
  std::int64_t fixed_ms = 0;  // kFixed
};

struct Window {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t next_end_ms = 0;  // end of the window after this one
};

// The window containing `now_ms`, and the end of the next one.
Window window_at(const WindowSpec& spec, const TimeZone& tz, std::int64_t now_ms);

// "day", "month" or a duration such as "7d", "12h", "30m"; nullopt when not one of those.
std::optional<WindowSpec> parse_window(const std::string& text);

}  // namespace sluice::limits
