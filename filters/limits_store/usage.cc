#include "filters/limits_store/usage.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "filters/limits_store/limits_filter.h"
#include "filters/limits_store/redis_scripts.h"
#include "filters/limits_store/resp_client.h"

namespace sluice::limits {

namespace asio = boost::asio;

namespace {

struct Seen {
  const char* filter = "";
  const Limiter* owner = nullptr;         // identity, compared without locking the weak_ptr
  std::weak_ptr<const Limiter> limiter;   // gone after a reload: the entry is skipped
  LimitCheck check;                       // the latest call's, for its window
};

// Sharded so that calls on different workers rarely meet on one mutex. Keyed by the check's
// counter key, which is already a std::string: no allocation for a counter already seen.
struct SeenShard {
  std::mutex mu;
  std::unordered_map<std::string, std::vector<Seen>> map;
};
constexpr std::size_t kSeenShards = 16;
SeenShard g_seen[kSeenShards];
std::atomic<std::size_t> g_seen_count{0};
std::atomic<bool> g_seen_capped{false};

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += ch;
    }
  }
  out += '"';
}

// One row of the answer.
struct Row {
  const char* filter;
  const LimitCheck* check;
  const char* store;
  std::int64_t used = 0, reserved = 0, window_start = 0, window_end = 0;
};

void append_row(std::string& out, const Row& r) {
  const LimitCheck& c = *r.check;
  // "rl:<counter>:<unit>" / "bg:<counter>:<unit>:<window>": the counter is the descriptor.
  std::string_view counter = c.key;
  if (counter.size() > 3) counter.remove_prefix(3);
  std::string_view unit = to_string(c.unit);
  auto at = counter.rfind(std::string(":") + std::string(unit));
  if (at != std::string_view::npos) counter = counter.substr(0, at);
  out += "{\"filter\":";
  json_string(out, r.filter);
  out += ",\"rule\":";
  json_string(out, c.label);
  out += ",\"counter\":";
  json_string(out, counter);
  out += ",\"unit\":\"";
  out += unit;
  out += "\",\"kind\":\"";
  out += c.kind == LimitKind::kRate ? "rate" : "quota";
  out += "\",\"store\":\"";
  out += r.store;
  out += "\",\"limit\":" + std::to_string(c.limit) + ",\"used\":" + std::to_string(r.used) +
         ",\"reserved\":" + std::to_string(r.reserved) + ",\"remaining\":" +
         std::to_string(std::max<std::int64_t>(0, c.limit - r.used - r.reserved));
  if (c.kind == LimitKind::kQuota && c.window_end_ms != 0)
    out += ",\"window_start_ms\":" + std::to_string(r.window_start) +
           ",\"window_end_ms\":" + std::to_string(r.window_end);
  out += '}';
}

std::int64_t rate_units(std::int64_t scaled, std::int64_t t_ms, std::int64_t limit,
                        std::int64_t now) {
  RateState s{scaled, t_ms};
  rate_settle(s, limit, 0, now);
  return (s.scaled + kRatePeriodMs - 1) / kRatePeriodMs;
}

// Reads, in one script call per chunk, what Redis holds for the entries (on Redis's clock).
constexpr const char* kReadScript = R"LUA(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {now}
for i = 1, #ARGV, 4 do
  local kind, key, ws, we = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local start = ws
  if we ~= 0 and now >= we then start = we end
  local v
  if kind == 'r' then
    v = redis.call('HMGET', key, 's', 't')
  else
    if we ~= 0 then key = key .. '@' .. string.format('%.0f', start) end
    v = redis.call('HMGET', key, 'u', 'rs', 'rb')  -- reservations: old layout + buckets
    v[2] = string.format('%.0f', tonumber(v[2] or '0') + tonumber(v[3] or '0'))
  end
  out[#out + 1] = v[1] or '0'
  out[#out + 1] = v[2] or '0'
  out[#out + 1] = string.format('%.0f', start)
end
return out
)LUA";

std::int64_t to_int(const redis::RespValue& v) {
  if (v.type == redis::RespValue::Type::kInteger) return v.integer;
  try {
    return static_cast<std::int64_t>(std::stod(v.str));
  } catch (...) {
    return 0;
  }
}

}  // namespace

void note_seen(const char* filter, const std::shared_ptr<const Limiter>& limiter,
               const std::vector<LimitCheck>& checks) {
  for (const LimitCheck& c : checks) {
    SeenShard& sh = g_seen[std::hash<std::string>{}(c.key) % kSeenShards];
    std::lock_guard lk(sh.mu);
    auto it = sh.map.find(c.key);
    if (it != sh.map.end()) {
      bool found = false;
      for (Seen& s : it->second) {
        if (s.owner != limiter.get()) continue;
        found = true;
        if (s.check.window_end_ms != c.window_end_ms || s.check.limit != c.limit) s.check = c;
      }
      if (found) continue;
    }
    if (g_seen_count.load(std::memory_order_relaxed) >= kMaxSeen) {
      g_seen_capped.store(true, std::memory_order_relaxed);
      continue;
    }
    g_seen_count.fetch_add(1, std::memory_order_relaxed);
    sh.map[c.key].push_back(Seen{filter, limiter.get(), limiter, c});
  }
}

asio::awaitable<std::string> limits_usage_json(asio::any_io_executor ex) {
  // A snapshot of the registry, with live limiters only (a reload's old ones drop out).
  struct Item {
    const char* filter;
    std::shared_ptr<const Limiter> limiter;
    LimitCheck check;
  };
  std::vector<Item> items;
  for (auto& sh : g_seen) {
    std::lock_guard lk(sh.mu);
    for (auto& [key, list] : sh.map)
      for (const Seen& s : list)
        if (auto l = s.limiter.lock()) items.push_back(Item{s.filter, std::move(l), s.check});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.check.key, a.check.label) < std::tie(b.check.key, b.check.label);
  });

  std::string out = "{\"limits\":[";
  std::string errors;
  bool first = true;
  auto add = [&](const Row& r) {
    if (!first) out += ',';
    first = false;
    append_row(out, r);
  };
  std::int64_t now = LocalStore::now_ms();
  std::map<const LocalStore*, bool> locals;
  std::map<std::string, std::vector<const Item*>> remote;  // by store
  for (const Item& it : items) {
    if (it.limiter->remote()) {
      remote[it.limiter->store_key()].push_back(&it);
      continue;
    }
    LocalStore& store = it.limiter->local();
    locals[&store] = true;
    Row r{it.filter, &it.check, "local"};
    if (it.check.kind == LimitKind::kRate) {
      r.used = store.rate_level(it.check.key, it.check.limit, now);
    } else {
      r.window_start = choose_window_start(it.check, now);
      r.window_end = window_end_for(it.check, r.window_start);
      std::tie(r.used, r.reserved) = store.quota_state(it.check.key, r.window_start);
    }
    add(r);
  }
  static const LuaScript read_script = [] {
    LuaScript s;
    s.body = kReadScript;
    return s;
  }();
  for (const auto& [store_key, list] : remote) {
    const RedisStore& rs = *list.front()->limiter->redis();
    const std::string prefix = list.front()->limiter->config().key_prefix;
    constexpr std::size_t kChunk = 500;
    for (std::size_t from = 0; from < list.size(); from += kChunk) {
      std::size_t to = std::min(list.size(), from + kChunk);
      std::vector<std::string> cmd{"EVAL", read_script.body, "0"};
      for (std::size_t i = from; i < to; ++i) {
        const LimitCheck& c = list[i]->check;
        cmd.push_back(c.kind == LimitKind::kRate ? "r" : "q");
        cmd.push_back(prefix + c.key);
        cmd.push_back(std::to_string(c.window_start_ms));
        cmd.push_back(std::to_string(c.window_end_ms));
      }
      redis::RespResult res = co_await redis::resp_command(ex, rs.endpoint(), std::move(cmd));
      using T = redis::RespValue::Type;
      if (!res.ok || res.value.type != T::kArray ||
          res.value.elements.size() != 1 + 3 * (to - from)) {
        if (!errors.empty()) errors += ',';
        json_string(errors, rs.endpoint().name() + ": " +
                                (!res.ok ? res.error
                                 : res.value.is_error() ? res.value.str.substr(0, 200)
                                                        : std::string("unexpected reply")));
        break;
      }
      std::int64_t redis_now = to_int(res.value.elements[0]);
      for (std::size_t i = from; i < to; ++i) {
        const auto* e = &res.value.elements[1 + 3 * (i - from)];
        const LimitCheck& c = list[i]->check;
        Row r{list[i]->filter, &c, "redis"};
        if (c.kind == LimitKind::kRate) {
          r.used = rate_units(to_int(e[0]), to_int(e[1]), c.limit, redis_now);
        } else {
          r.used = to_int(e[0]);
          r.reserved = to_int(e[1]);
          r.window_start = to_int(e[2]);
          r.window_end = window_end_for(c, r.window_start);
        }
        add(r);
      }
    }
  }
  out += "],\"local_counters\":[";
  first = true;
  for (const auto& [store, _] : locals) {
    for (const std::string& line : store->describe()) {
      if (!first) out += ',';
      first = false;
      json_string(out, line);
    }
  }
  out += "],\"seen\":" + std::to_string(g_seen_count.load()) + ",\"seen_capped\":" +
         (g_seen_capped.load() ? "true" : "false") + ",\"errors\":[" + errors + "]}";
  co_return out;
}

}  // namespace sluice::limits
