#include "filters/limits_store/calendar.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sluice::limits {

namespace {

std::int64_t be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

// Days since 1970-01-01 for a proleptic Gregorian date, and back (H. Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Local midnight of local day `days` as Unix seconds.
std::int64_t local_midnight(const TimeZone& tz, std::int64_t days) {
  std::int64_t local = days * 86400;
  // The offset at the instant itself: try the offset in effect just before, then correct.
  std::int64_t guess = local - tz.offset_at(local);
  return local - tz.offset_at(guess);
}

}  // namespace

TimeZone TimeZone::utc() { return TimeZone(); }

std::optional<TimeZone> TimeZone::load(const std::string& name, std::string& error,
                                       const std::string& dir) {
  if (name == "UTC" || name == "Etc/UTC" || name.empty()) return utc();
  if (name.find("..") != std::string::npos || name.front() == '/') {
    error = "invalid time zone name \"" + name + "\"";
    return std::nullopt;
  }
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) {
    error = "unknown time zone \"" + name + "\" (no " + dir + "/" + name + ")";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(name, ss.str(), error);
}

std::optional<TimeZone> TimeZone::parse(const std::string& name, const std::string& data,
                                        std::string& error) {
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t size = data.size();
  auto bad = [&](const char* why) -> std::optional<TimeZone> {
    error = "time zone \"" + name + "\": " + why;
    return std::nullopt;
  };
  if (size < 44 || data.compare(0, 4, "TZif") != 0) return bad("not a TZif file");
  auto counts = [&](std::size_t at, std::int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = be(p + at + 20 + 4 * i, 4);
  };
  std::int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  int tsize = 4;
  std::size_t at = 44;
  if (data[4] >= '2') {
    std::size_t v1 = static_cast<std::size_t>(c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (44 + v1 + 44 > size) return bad("truncated");
    counts(44 + v1, c);
    at = 44 + v1 + 44;
    tsize = 8;
  }
  std::int64_t timecnt = c[3], typecnt = c[4];
  if (typecnt <= 0 || timecnt < 0 || typecnt > 256 || timecnt > 100000) return bad("bad counts");
  std::size_t need = static_cast<std::size_t>(timecnt * (tsize + 1) + typecnt * 6);
  if (at + need > size) return bad("truncated");
  TimeZone tz;
  tz.name_ = name;
  std::vector<std::int32_t> type_offsets(static_cast<std::size_t>(typecnt));
  const unsigned char* types = p + at + timecnt * tsize + timecnt;
  for (std::int64_t i = 0; i < typecnt; ++i)
    type_offsets[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(be(types + 6 * i, 4));
  for (std::int64_t i = 0; i < timecnt; ++i) {
    std::int64_t t = be(p + at + i * tsize, tsize);
    unsigned idx = p[at + timecnt * tsize + i];
    if (idx >= type_offsets.size()) return bad("bad type index");
    tz.transitions_.push_back(t);
    tz.offsets_.push_back(type_offsets[idx]);
  }
  tz.initial_offset_ = type_offsets[0];
  return tz;
}

std::int64_t TimeZone::offset_at(std::int64_t t) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<std::size_t>(it - transitions_.begin() - 1)];
}

Window window_at(const WindowSpec& spec, const TimeZone& tz, std::int64_t now_ms) {
  Window w;
  std::int64_t now_s = floor_div(now_ms, 1000);
  switch (spec.kind) {
    case WindowKind::kNone:
      return w;
    case WindowKind::kFixed: {
      std::int64_t start = floor_div(now_ms, spec.fixed_ms) * spec.fixed_ms;
      w.start_ms = start;
      w.end_ms = start + spec.fixed_ms;
      w.next_end_ms = start + 2 * spec.fixed_ms;
      return w;
    }
    case WindowKind::kDay: {
      std::int64_t day = floor_div(now_s + tz.offset_at(now_s), 86400);
      std::int64_t start = local_midnight(tz, day);
      if (start > now_s) start = local_midnight(tz, --day);
      w.start_ms = start * 1000;
      w.end_ms = local_midnight(tz, day + 1) * 1000;
      w.next_end_ms = local_midnight(tz, day + 2) * 1000;
      return w;
    }
    case WindowKind::kMonth: {
      std::int64_t day = floor_div(now_s + tz.offset_at(now_s), 86400);
      std::int64_t y;
      unsigned m, d;
      civil_from_days(day, y, m, d);
      auto first = [](std::int64_t yy, unsigned mm) { return days_from_civil(yy, mm, 1); };
      auto next = [](std::int64_t& yy, unsigned& mm) {
        if (++mm > 12) {
          mm = 1;
          ++yy;
        }
      };
      w.start_ms = local_midnight(tz, first(y, m)) * 1000;
      next(y, m);
      w.end_ms = local_midnight(tz, first(y, m)) * 1000;
      next(y, m);
      w.next_end_ms = local_midnight(tz, first(y, m)) * 1000;
      return w;
    }
  }
  return w;
}

std::optional<WindowSpec> parse_window(const std::string& text) {
  WindowSpec s;
  if (text == "day") {
    s.kind = WindowKind::kDay;
    return s;
  }
  if (text == "month") {
    s.kind = WindowKind::kMonth;
    return s;
  }
  if (text.size() < 2) return std::nullopt;
  std::int64_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 1'000'000) n = n * 10 + (text[i++] - '0');
  if (i == 0 || n <= 0 || i + 1 != text.size()) return std::nullopt;
  std::int64_t unit = 0;
  switch (text[i]) {
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    default: return std::nullopt;
  }
  s.kind = WindowKind::kFixed;
  s.fixed_ms = n * unit;
  if (s.fixed_ms > 366LL * 86'400'000) return std::nullopt;
  return s;
}

}  // namespace sluice::limits
