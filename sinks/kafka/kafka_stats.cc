#include "sinks/kafka/kafka_stats.h"

namespace sluice {
namespace {

// Value of the string member `"key": "..."` (librdkafka writes some with a space after the
// colon, some without) found first at or after `from`; empty when absent. `at` gets its offset.
std::string_view string_member(std::string_view json, std::string_view quoted_key_colon,
                               std::size_t from, std::size_t* at) {
  for (std::size_t p = json.find(quoted_key_colon, from); p != std::string_view::npos;
       p = json.find(quoted_key_colon, p + 1)) {
    std::size_t v = p + quoted_key_colon.size();
    while (v < json.size() && json[v] == ' ') ++v;
    if (v >= json.size() || json[v] != '"') continue;  // not a string member
    std::size_t end = json.find('"', v + 1);
    if (end == std::string_view::npos) return {};
    if (at) *at = p;
    return json.substr(v + 1, end - v - 1);
  }
  return {};
}

}  // namespace

KafkaStatsSummary summarize_kafka_stats(std::string_view json) {
  KafkaStatsSummary s;
  std::size_t at = 0;
  s.idemp_state = std::string(string_member(json, "\"idemp_state\":", 0, &at));
  std::size_t brokers = json.find("\"brokers\":");
  if (brokers == std::string_view::npos) return s;
  // Broker entries are objects keyed by name; each has "name" before "state". Walk "name"
  // members: librdkafka writes no other "name" member inside "brokers" before "topics".
  std::size_t end = json.find("\"topics\":", brokers);
  if (end == std::string_view::npos) end = json.size();
  std::size_t pos = brokers;
  for (;;) {
    std::size_t name_at = std::string_view::npos;
    std::string_view name = string_member(json, "\"name\":", pos, &name_at);
    if (name.empty() || name_at >= end) break;
    std::size_t state_at = std::string_view::npos;
    std::string_view state = string_member(json, "\"state\":", name_at, &state_at);
    pos = name_at + 1;
    if (state_at >= end) break;
    if (name.size() >= 9 && name.substr(name.size() - 9) == "/internal") continue;
    ++s.brokers_known;
    if (state == "UP") ++s.brokers_up;
  }
  return s;
}

}  // namespace sluice
