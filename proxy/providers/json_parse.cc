#include "proxy/providers/json_parse.h"

#include <cstring>
#include <memory>

namespace sluice {
namespace {

struct ThreadJson {
  simdjson::ondemand::parser parser;
  std::unique_ptr<char[]> buf;
  std::size_t capacity = 0;
};

ThreadJson& thread_json() {
  thread_local ThreadJson t;
  return t;
}

}  // namespace

simdjson::error_code parse_on_this_thread(std::string_view json, simdjson::ondemand::document& doc,
                                          const char*& base) {
  ThreadJson& t = thread_json();
  const std::size_t need = json.size() + simdjson::SIMDJSON_PADDING;
  if (t.capacity < need) {
    std::size_t cap = t.capacity == 0 ? 4096 : t.capacity;
    while (cap < need) cap *= 2;
    t.buf = std::make_unique<char[]>(cap);  // zeroed: the padding must be readable
    t.capacity = cap;
  }
  if (!json.empty()) std::memcpy(t.buf.get(), json.data(), json.size());
  // simdjson may read into the padding when it checks where a scalar ends; blank it so that
  // bytes left from an earlier, longer input are never read as part of this one.
  std::memset(t.buf.get() + json.size(), ' ', simdjson::SIMDJSON_PADDING);
  base = t.buf.get();
  return t.parser.iterate(t.buf.get(), json.size(), t.capacity).get(doc);
}

bool at_document_end(simdjson::ondemand::document& doc) {
  const char* loc = nullptr;
  return doc.current_location().get(loc) == simdjson::OUT_OF_BOUNDS;
}

std::string_view trim_token(std::string_view token) {
  while (!token.empty()) {
    const char c = token.back();
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    token.remove_suffix(1);
  }
  return token;
}

}  // namespace sluice
