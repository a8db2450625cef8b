// Crash tests: a child process writes to the spool and is killed with SIGKILL mid-stream; the
// parent then opens the spool like a restarted proxy would. SIGKILL stops the process, not the
// kernel, so this proves that nothing reported durable was still in the process's memory and
// that recovery copes with whatever the child left; power loss (page cache gone) is out of reach
// of a unit test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "sinks/spool/spool_writer.h"
#include "tests/sinks/spool/spool_test_util.h"

namespace sluice {
namespace {

using namespace spool_test;
using Clock = std::chrono::steady_clock;

class SpoolCrashTest : public TempDirTest {};

// Child: submits records "<round>:<n>" forever from two threads; each record reported durable
// has its n written to `fd` as text. Never returns.
[[noreturn]] void run_child(const std::string& dir, int round, int fd) {
  SpoolWriterConfig c;
  c.spool.dir = dir;
  c.spool.segment_bytes = 64 << 10;  // rotate often
  c.spool.fsync = FsyncPolicy::kAlways;
  std::mutex write_mu;
  try {
    SpoolWriter w(c);
    std::atomic<int> next{0};
    auto submitter = [&] {
      for (;;) {
        const int n = next++;
        auto rec = make_record(std::to_string(round) + ":" + std::to_string(n), 500);
        w.submit(rec, [&, n](Durability d) {
          if (d != Durability::kDurable) return;
          const std::string line = std::to_string(n) + "\n";
          std::lock_guard<std::mutex> lock(write_mu);
          if (::write(fd, line.data(), line.size()) < 0) _exit(3);
        });
        if (n % 64 == 0) std::this_thread::yield();
      }
    };
    std::thread t1(submitter);
    submitter();
  } catch (...) {
    _exit(2);
  }
  _exit(4);
}

TEST_F(SpoolCrashTest, EverythingReportedDurableSurvivesSigkill) {
  std::set<std::string> durable;  // ids reported durable over all rounds
  std::uint64_t reported_last_round = 0;
  for (int round = 0; round < 3; ++round) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(p[0]);
      run_child(dir_.string(), round, p[1]);
    }
    ::close(p[1]);
    // Read reports until enough came in, then kill without warning.
    std::string buf;
    std::uint64_t reported = 0;
    const auto give_up = Clock::now() + 30s;
    char chunk[4096];
    while (reported < 2000 + 1000u * round && Clock::now() < give_up) {
      const ssize_t n = ::read(p[0], chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t pos;
      while ((pos = buf.find('\n')) != std::string::npos) {
        durable.insert(std::to_string(round) + ":" + buf.substr(0, pos));
        buf.erase(0, pos + 1);
        ++reported;
      }
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(p[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    ASSERT_GT(reported, 0u);
    reported_last_round = reported;

    // The restarted "proxy": every record ever reported durable is still there (none were
    // acknowledged, so none may have been deleted).
    Spool s(config(64 << 10));
    std::set<std::string> present;
    for (const auto& r : replay_all(s).records) present.insert(r->id);
    std::size_t missing = 0;
    for (const auto& id : durable) missing += present.count(id) == 0;
    EXPECT_EQ(missing, 0u) << "round " << round << ": " << durable.size() << " reported durable";
    EXPECT_GE(present.size(), durable.size());
    std::printf("round %d: %zu reported durable so far, %zu on disk, %llu tail cut(s)\n", round,
                durable.size(), present.size(),
                static_cast<unsigned long long>(s.stats().corrupt_tail_cuts));
  }
  EXPECT_GT(reported_last_round, 0u);
}

TEST_F(SpoolCrashTest, FileSizeLimitCountsWriteErrorsAndKeepsRunning) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // EFBIG instead of SIGXFSZ once a file would grow past 16 KiB: a real "disk full" for
    // this process only.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{16 << 10, 16 << 10};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(10);
    SpoolConfig c;
    c.dir = dir_.string();
    c.segment_bytes = 64 << 10;  // larger than the limit: writes fail before any rotation
    c.fsync = FsyncPolicy::kAlways;
    c.write_buffer_bytes = 0;
    int appended = 0;
    int lost = 0;
    {
      Spool s(c);
      for (int i = 0; i < 100; ++i) {
        const auto r = s.append(*make_record("r" + std::to_string(i), 500));
        if (r.status != AppendResult::Status::kAppended) _exit(11);
        ++appended;
        for (const auto& range : s.commit().lost) lost += range.last - range.first + 1;
      }
      const auto st = s.stats();
      if (st.write_errors == 0 || st.lost_io == 0) _exit(12);
      if (static_cast<int>(st.lost_io) != lost) _exit(13);
      // The file holds whole records only: the failed writes were cut back.
      Spool::ReplayResult rr = s.replay(0, [](std::uint64_t, const RecordPtr&) { return true; });
      if (rr.visited + st.lost_io != 100) _exit(14);
    }
    Spool again(c);  // reopens cleanly, no corrupt tail to cut
    if (again.stats().corrupt_tail_cuts != 0) _exit(15);
    _exit(appended == 100 ? 0 : 16);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace sluice
