// Helpers shared by the spool tests: a temp dir per test, records, file surgery.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sinks/sink.h"
#include "sinks/spool/spool.h"
#include "sinks/spool/spool_segment.h"

namespace sluice::spool_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline RecordPtr make_record(const std::string& id, std::size_t payload_bytes = 100,
                             Record::Kind kind = Record::Kind::kEvent,
                             const std::string& key = "tenant-a") {
  auto r = std::make_shared<Record>();
  r->kind = kind;
  r->id = id;
  r->key = key;
  std::string json = R"({"event_id":")" + id + R"(","pad":")";
  while (json.size() + 2 < payload_bytes) json.push_back(static_cast<char>('a' + json.size() % 26));
  json += "\"}";
  r->json = std::move(json);
  return r;
}

// Everything replay() returns, in order.
struct Replayed {
  std::vector<std::uint64_t> seqs;
  std::vector<RecordPtr> records;
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r->id);
    return out;
  }
};

inline Replayed replay_all(Spool& spool, std::uint64_t from = 0) {
  Replayed out;
  spool.replay(from, [&](std::uint64_t seq, const RecordPtr& r) {
    out.seqs.push_back(seq);
    out.records.push_back(r);
    return true;
  });
  return out;
}

inline std::vector<std::string> segment_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (parse_segment_file_name(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      out.push_back(name);
    }
  }
  return out;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-spool-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  SpoolConfig config(std::uint64_t segment_bytes = 64 << 10, std::uint64_t max_bytes = 1 << 30) {
    SpoolConfig c;
    c.dir = dir_.string();
    c.segment_bytes = segment_bytes;
    c.max_bytes = max_bytes;
    c.fsync = FsyncPolicy::kNever;  // tests that care about fsync say so
    return c;
  }

  fs::path dir_;
};

}  // namespace sluice::spool_test
