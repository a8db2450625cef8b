// docs/configuration.md and the loader must know the same keys: every key the loader accepts
// is documented, and every documented key is one the loader accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "conf/config_loader.h"

namespace sluice {
namespace {

// Keys are the first backticked cell of table rows: "| `listener.address` | ...". A cell may
// list siblings: "`identity.default.tenant` / `team` / `app`".
std::set<std::string> documented_keys() {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/docs/configuration.md");
  EXPECT_TRUE(in.good());
  std::set<std::string> keys;
  std::string line;
  std::regex cell(R"(^\|\s*([^|]+?)\s*\|)");
  std::regex tick("`([^`]+)`");
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, cell)) continue;
    std::string first = m[1];
    std::string parent;
    for (auto it = std::sregex_iterator(first.begin(), first.end(), tick); it != std::sregex_iterator(); ++it) {
      std::string k = (*it)[1];
      if (k.find('.') == std::string::npos && !parent.empty()) k = parent + k;
      if (k.find('.') == std::string::npos && k != "passthrough") continue;  // not a key cell
      parent = k.substr(0, k.rfind('.') + 1);
      k = std::regex_replace(k, std::regex(R"(\.NAME\.)"), ".*.");
      k = std::regex_replace(k, std::regex(R"(\.NAME$)"), ".*");
      keys.insert(k);
    }
  }
  // Table headers and prose cells are not keys.
  keys.erase("key");
  keys.erase("filters.*");  // "filters.NAME": one row stands for every filter's section
  return keys;
}

TEST(ConfigReference, DocumentedKeysMatchTheLoader) {
  std::set<std::string> loader;
  for (const auto& k : known_config_keys()) loader.insert(k);
  std::set<std::string> docs = documented_keys();
  for (const auto& k : loader) EXPECT_TRUE(docs.count(k)) << "undocumented key: " << k;
  for (const auto& k : docs) EXPECT_TRUE(loader.count(k)) << "documented key the loader does not know: " << k;
}

}  // namespace
}  // namespace sluice
