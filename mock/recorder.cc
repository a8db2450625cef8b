#include "mock/recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "mock/json_writer.h"

namespace sluice::mock {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Recorder::Recorder(std::size_t max_entries, std::size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

Recorder::~Recorder() {
  if (fd_ >= 0) ::close(fd_);
}

bool Recorder::open_file(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return true;
}

std::string Recorder::entry_json(const MockRequest& req, std::uint64_t seq, std::int64_t t_start_us,
                                 std::optional<std::int64_t> t_closed_us) {
  std::string o;
  o.reserve(256 + req.body.size() + req.target.size());
  o += "{\"seq\":";
  append_int(o, static_cast<std::int64_t>(seq));
  o += ",\"method\":";
  append_json_string(o, req.method);
  o += ",\"target\":";
  append_json_string(o, req.target);
  o += ",\"headers\":{";
  // Repeated headers are joined with ", " under their first position.
  std::vector<std::pair<std::string_view, std::string>> merged;
  for (const auto& h : req.headers) {
    bool found = false;
    for (auto& m : merged) {
      if (m.first == h.name) {
        m.second += ", ";
        m.second += h.value;
        found = true;
        break;
      }
    }
    if (!found) merged.emplace_back(h.name, h.value);
  }
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (i) o += ",";
    append_json_string(o, merged[i].first);
    o += ":";
    append_json_string(o, merged[i].second);
  }
  o += "},\"body\":";
  append_json_string(o, req.body);
  o += ",\"t_start_us\":";
  append_int(o, t_start_us);
  o += ",\"t_closed_us\":";
  if (t_closed_us) {
    append_int(o, *t_closed_us);
  } else {
    o += "null";
  }
  o += ",\"outcome\":\"";
  o += t_closed_us ? "peer_closed" : "complete";
  o += "\"}";
  return o;
}

void Recorder::record(const MockRequest& req, std::uint64_t seq, std::int64_t t_start_us,
                      std::optional<std::int64_t> t_closed_us) {
  if (!enabled()) return;
  std::string line = entry_json(req, seq, t_start_us, t_closed_us);
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    line.pop_back();
  }
  if (max_entries_ == 0) return;
  bytes_ += line.size();
  entries_.push_back(std::move(line));
  while (!entries_.empty() && (entries_.size() > max_entries_ || bytes_ > max_bytes_)) {
    bytes_ -= entries_.front().size();
    entries_.pop_front();
  }
}

std::string Recorder::entries_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  o.reserve(bytes_ + entries_.size() + 2);
  o += "[";
  bool first = true;
  for (const auto& e : entries_) {
    if (!first) o += ",";
    first = false;
    o += e;
  }
  o += "]";
  return o;
}

void Recorder::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  bytes_ = 0;
  seq_.store(0, std::memory_order_relaxed);
}

}  // namespace sluice::mock
