// Reloader: a valid file replaces the running snapshot (listener sockets' settings kept), an
// invalid one is refused whole and counted, restart-only changes are reported.
#include "proxy/reload.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include "conf/config_loader.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"

namespace sluice {
namespace {

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test case as its own process, two at a time: one file per process.
    path_ = ::testing::TempDir() + "/sluice-reload-test-" + std::to_string(::getpid()) + ".yaml";
    write(config("default", "127.0.0.1:8080"));
    ConfigLoad first = load_config_file(path_);
    ASSERT_TRUE(first.errors.empty()) << first.errors.front();
    auto running = std::make_shared<Config>(*first.config);
    running->listener.address.port = 41234;  // as if overridden with --listen
    shared_.runtime.set(std::make_shared<const Runtime>(running));
    reloader_ = std::make_unique<Reloader>(shared_, path_, first.config->listener);
  }
  void TearDown() override { std::remove(path_.c_str()); }

  static std::string config(const std::string& tenant, const std::string& listen) {
    return "listener:\n  address: " + listen +
           "\nupstreams:\n  openai: {provider: openai, url: \"http://127.0.0.1:9\"}\n"
           "  anthropic: {provider: anthropic, url: \"http://127.0.0.1:9\"}\n"
           "identity:\n  default: {tenant: " +
           tenant + "}\n";
  }
  void write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  const Config& running() { return shared_.runtime.get()->config(); }

  std::string path_;
  SharedState shared_;
  std::unique_ptr<Reloader> reloader_;
};

TEST_F(ReloadTest, ValidFileReplacesSnapshotAndKeepsSockets) {
  auto before = shared_.runtime.get();
  write(config("team-a", "127.0.0.1:8080"));
  ReloadOutcome r = reloader_->reload();
  ASSERT_TRUE(r.ok) << r.to_json();
  EXPECT_TRUE(r.restart_required.empty());
  EXPECT_EQ(running().identity.default_identity.tenant, "team-a");
  EXPECT_EQ(running().listener.address.port, 41234);  // the running socket's setting stays
  EXPECT_NE(shared_.runtime.get(), before);
  EXPECT_EQ(before->config().identity.default_identity.tenant,
            "default");  // in-flight snapshot intact
  EXPECT_EQ(reloader_->succeeded(), 1u);
  EXPECT_EQ(reloader_->failed(), 0u);
}

TEST_F(ReloadTest, InvalidFileIsRefusedWhole) {
  auto before = shared_.runtime.get();
  write(config("team-b", "127.0.0.1:8080") + "bogus_key: 1\n");
  ReloadOutcome r = reloader_->reload();
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors.front().find("bogus_key"), std::string::npos) << r.errors.front();
  EXPECT_EQ(shared_.runtime.get(), before);
  EXPECT_EQ(reloader_->failed(), 1u);
  std::string metrics;
  reloader_->render_metrics(metrics);
  EXPECT_NE(metrics.find("sluice_config_reloads_total{result=\"error\"} 1"), std::string::npos);
}

TEST_F(ReloadTest, UnreadableCaBundleIsRefused) {
  auto before = shared_.runtime.get();
  write(
      "upstreams:\n  openai: {provider: openai, url: \"https://127.0.0.1:9\", ca_file: "
      "/nonexistent/ca.pem}\n  anthropic: {provider: anthropic, url: \"http://127.0.0.1:9\"}\n");
  ReloadOutcome r = reloader_->reload();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(shared_.runtime.get(), before);
}

TEST_F(ReloadTest, ListenerChangeNeedsRestart) {
  write(config("default", "127.0.0.1:9090"));
  ReloadOutcome r = reloader_->reload();
  ASSERT_TRUE(r.ok) << r.to_json();
  ASSERT_EQ(r.restart_required.size(), 1u);
  EXPECT_EQ(r.restart_required[0], "listener.address");
  EXPECT_EQ(running().listener.address.port, 41234);
  EXPECT_NE(r.to_json().find("\"restart_required\":[\"listener.address\"]"), std::string::npos);
}

TEST_F(ReloadTest, MissingFileIsRefused) {
  std::remove(path_.c_str());
  ReloadOutcome r = reloader_->reload();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.errors.empty());
}

}  // namespace
}  // namespace sluice
