// Tests for conf/config_loader.{h,cc} and conf/yaml_reader.{h,cc}: the embedded defaults, ${ENV}
// interpolation, one test per class of bad configuration (each asserting file, line and dotted
// key of the error), a full configuration with every key, and known_config_keys().
//
// Errors are "file:line:col: dotted.key: message" (config_loader.h). YAML snippets below start
// on line 1 (the raw string opens on the first key), so line numbers can be read off the text;
// the expected line is also noted in a comment on the offending line.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/config_loader.h"
#include "conf/key_fingerprint.h"
#include "conf/yaml_reader.h"
#include "filters/model_access/config.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

constexpr const char* kFile = "test.yaml";

// Sets (or unsets, with nullopt) an environment variable for the scope, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      ::setenv(name_.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// The embedded default reads these; clear them so the defaults are what the tests see.
struct CleanDefaultEnv {
  ScopedEnv a{"SLUICE_LISTEN", std::nullopt};
  ScopedEnv b{"SLUICE_ADMIN_LISTEN", std::nullopt};
  ScopedEnv c{"SLUICE_OPENAI_URL", std::nullopt};
  ScopedEnv d{"SLUICE_ANTHROPIC_URL", std::nullopt};
  ScopedEnv e{"SLUICE_UPSTREAM_CA", std::nullopt};
  ScopedEnv f{"SLUICE_EVENTS_PATH", std::nullopt};
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

// Two valid upstreams, appended after the section under test so that the by-header default
// route has both the upstreams it needs and the only errors are the ones a test provokes.
constexpr const char* kBase = R"(
upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)";

ConfigLoad load(const std::string& yaml) { return load_config_text(yaml, kFile); }
ConfigLoad load_with_base(const std::string& yaml) { return load(yaml + kBase); }

// True when some error is "<file>:<line>:<col>: <key>: ...<message>...".
::testing::AssertionResult HasError(const ConfigLoad& r, int line, const std::string& key,
                                    const std::string& message, const std::string& file = kFile) {
  const std::string where = file + ":" + std::to_string(line) + ":";
  for (const auto& e : r.errors) {
    if (e.rfind(where, 0) != 0) continue;
    auto after_col = e.find(": ", where.size());
    if (after_col == std::string::npos) continue;
    if (e.compare(after_col + 2, key.size() + 2, key + ": ") != 0) continue;
    if (e.find(message) == std::string::npos) continue;
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "no error \"" << where << "<col>: " << key << ": ..." << message << "...\" among "
         << r.errors.size() << " error(s):\n"
         << join(r.errors);
}

// The load failed with exactly one error, and it is this one.
::testing::AssertionResult OnlyError(const ConfigLoad& r, int line, const std::string& key,
                                     const std::string& message) {
  if (r.config != nullptr) return ::testing::AssertionFailure() << "config loaded without errors";
  if (r.errors.size() != 1)
    return ::testing::AssertionFailure() << "expected 1 error, got " << r.errors.size() << ":\n"
                                         << join(r.errors);
  return HasError(r, line, key, message);
}

// ---------------------------------------------------------------------------------------------
// The embedded default configuration.

TEST(EmbeddedDefault, IsConfSluiceYamlVerbatim) {
  std::ifstream in(SLUICE_SOURCE_DIR "/conf/sluice.yaml", std::ios::binary);
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(embedded_default_config(), ss.str());
}

TEST(EmbeddedDefault, LoadsWithoutErrors) {
  CleanDefaultEnv env;
  ConfigLoad r = load_config_text(embedded_default_config(), "<embedded>");
  ASSERT_TRUE(r.errors.empty()) << join(r.errors);
  ASSERT_NE(r.config, nullptr);
  EXPECT_EQ(r.config->source_file, "<embedded>");
}

TEST(EmbeddedDefault, HasTheDocumentedDefaults) {
  CleanDefaultEnv env;
  ConfigLoad r = load_config_text(embedded_default_config(), "<embedded>");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  const Config& c = *r.config;

  EXPECT_EQ(c.listener.address.host, "127.0.0.1");
  EXPECT_EQ(c.listener.address.port, 8080);
  EXPECT_EQ(c.listener.admin_address.host, "127.0.0.1");
  EXPECT_EQ(c.listener.admin_address.port, 9090);
  EXPECT_EQ(c.listener.workers, 0);
  EXPECT_EQ(c.listener.max_header_bytes, 16u * 1024);
  EXPECT_EQ(c.listener.max_header_count, 100u);
  EXPECT_EQ(c.listener.max_body_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(c.listener.header_timeout, 10s);
  EXPECT_EQ(c.listener.body_timeout, 60s);
  EXPECT_EQ(c.listener.idle_timeout, 60s);
  EXPECT_EQ(c.listener.write_timeout, 60s);
  EXPECT_EQ(c.listener.drain_timeout, 30s);
  EXPECT_EQ(c.listener.admin_token, "");

  ASSERT_EQ(c.upstreams.size(), 2u);
  const UpstreamConfig* oa = c.find_upstream("openai");
  const UpstreamConfig* an = c.find_upstream("anthropic");
  ASSERT_NE(oa, nullptr);
  ASSERT_NE(an, nullptr);
  EXPECT_EQ(oa->provider, Provider::kOpenAI);
  EXPECT_EQ(oa->scheme, "https");
  EXPECT_EQ(oa->host, "api.openai.com");
  EXPECT_EQ(oa->port, 443);
  EXPECT_EQ(oa->base_path, "");
  EXPECT_EQ(oa->ca_file, "");
  EXPECT_TRUE(oa->verify_tls);
  EXPECT_EQ(oa->first_byte_timeout, 10min);
  EXPECT_TRUE(oa->inject_stream_usage);
  EXPECT_EQ(an->provider, Provider::kAnthropic);
  EXPECT_EQ(an->host, "api.anthropic.com");
  EXPECT_EQ(an->port, 443);
  EXPECT_EQ(an->first_byte_timeout, 10min);
  EXPECT_EQ(c.find_upstream("nope"), nullptr);

  // Without `routes`: /openai/ and /anthropic/ (prefix stripped), and the by-header /v1/ route
  // that keeps the path (conf/sluice.yaml comment and load_node()).
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].prefix, "/openai/");
  EXPECT_EQ(c.routes[0].upstream, "openai");
  EXPECT_TRUE(c.routes[0].strip_prefix);
  EXPECT_FALSE(c.routes[0].by_header);
  EXPECT_EQ(c.routes[1].prefix, "/anthropic/");
  EXPECT_EQ(c.routes[1].upstream, "anthropic");
  EXPECT_TRUE(c.routes[1].strip_prefix);
  EXPECT_FALSE(c.routes[1].by_header);
  EXPECT_EQ(c.routes[2].prefix, "/v1/");
  EXPECT_EQ(c.routes[2].upstream, "");
  EXPECT_TRUE(c.routes[2].by_header);
  EXPECT_FALSE(c.routes[2].strip_prefix);
  for (const auto& route : c.routes) {
    EXPECT_TRUE(route.filters.empty());
    EXPECT_FALSE(route.passthrough.has_value());
  }

  EXPECT_EQ(c.passthrough, PassthroughPolicy::kForward);
  EXPECT_TRUE(c.identity.allow_provider_keys);
  EXPECT_EQ(c.identity.default_identity.tenant, "default");
  EXPECT_TRUE(c.identity.virtual_keys.empty());
  EXPECT_TRUE(c.identity.provider_key_identities.empty());

  EXPECT_EQ(c.filters, std::vector<std::string>{"model_access"});
  ASSERT_EQ(c.filter_configs.count("model_access"), 1u);
  auto ma =
      std::dynamic_pointer_cast<const model_access::Config>(c.filter_configs.at("model_access"));
  ASSERT_NE(ma, nullptr);
  EXPECT_TRUE(ma->rules.empty());

  EXPECT_TRUE(c.jsonl.enabled);
  EXPECT_EQ(c.jsonl.events_path, "sluice-events.jsonl");
  EXPECT_EQ(c.jsonl.alerts_path, "");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_FALSE(c.log.access_log);
}

TEST(EmbeddedDefault, EnvironmentOverridesTheListenAddressAndUrls) {
  CleanDefaultEnv env;
  ScopedEnv listen("SLUICE_LISTEN", "0.0.0.0:18080");
  ScopedEnv url("SLUICE_OPENAI_URL", "http://127.0.0.1:9999/mock");
  ConfigLoad r = load_config_text(embedded_default_config(), "<embedded>");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.address.host, "0.0.0.0");
  EXPECT_EQ(r.config->listener.address.port, 18080);
  const UpstreamConfig* oa = r.config->find_upstream("openai");
  ASSERT_NE(oa, nullptr);
  EXPECT_EQ(oa->scheme, "http");
  EXPECT_EQ(oa->host, "127.0.0.1");
  EXPECT_EQ(oa->port, 9999);
  EXPECT_EQ(oa->base_path, "/mock");
}

TEST(EmbeddedDefault, TheRepositoryFileLoadsFromDisk) {
  CleanDefaultEnv env;
  ConfigLoad r = load_config_file(SLUICE_SOURCE_DIR "/conf/sluice.yaml");
  ASSERT_TRUE(r.errors.empty()) << join(r.errors);
  EXPECT_EQ(r.config->source_file, SLUICE_SOURCE_DIR "/conf/sluice.yaml");
}

// ---------------------------------------------------------------------------------------------
// ${VAR} interpolation.

TEST(Interpolation, VariableIsReplaced) {
  ScopedEnv v("SLUICE_T_TOKEN", "s3cret");
  ConfigLoad r = load_with_base(R"(listener:
  admin_token: ${SLUICE_T_TOKEN}
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "s3cret");
}

TEST(Interpolation, DefaultIsUsedWhenUnsetOrEmpty) {
  ScopedEnv unset("SLUICE_T_UNSET", std::nullopt);
  ScopedEnv empty("SLUICE_T_EMPTY", "");
  ConfigLoad r = load_with_base(R"(listener:
  admin_token: ${SLUICE_T_UNSET:-fallback}
  address: ${SLUICE_T_EMPTY:-127.0.0.2:8081}
  workers: ${SLUICE_T_UNSET:-3}
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "fallback");
  EXPECT_EQ(r.config->listener.address.host, "127.0.0.2");
  EXPECT_EQ(r.config->listener.address.port, 8081);
  EXPECT_EQ(r.config->listener.workers, 3);
}

TEST(Interpolation, SetVariableWinsOverDefault) {
  ScopedEnv v("SLUICE_T_WORKERS", "7");
  ConfigLoad r = load_with_base(R"(listener:
  workers: ${SLUICE_T_WORKERS:-3}
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.workers, 7);
}

TEST(Interpolation, EmptyDefaultGivesEmptyString) {
  ScopedEnv unset("SLUICE_T_UNSET", std::nullopt);
  ConfigLoad r = load_with_base(R"(listener:
  admin_token: "x${SLUICE_T_UNSET:-}y"
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "xy");
}

TEST(Interpolation, DoubleDollarIsALiteralDollar) {
  ScopedEnv v("SLUICE_T_TOKEN", "expanded");
  ConfigLoad r = load_with_base(R"(listener:
  admin_token: "a$$b$${SLUICE_T_TOKEN}c$"
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "a$b${SLUICE_T_TOKEN}c$");
}

TEST(Interpolation, UnsetVariableWithoutDefaultIsAnErrorNamingIt) {
  ScopedEnv unset("SLUICE_T_MISSING", std::nullopt);
  ConfigLoad r = load_with_base(R"(listener:
  workers: 2
  admin_token: ${SLUICE_T_MISSING}     # line 3
)");
  EXPECT_TRUE(
      OnlyError(r, 3, "listener.admin_token", "environment variable SLUICE_T_MISSING is not set"));
  // Column of the value.
  EXPECT_EQ(r.errors.at(0).rfind("test.yaml:3:16: ", 0), 0u) << r.errors.at(0);
}

TEST(Interpolation, SetButEmptyVariableWithoutDefaultIsEmpty) {
  ScopedEnv empty("SLUICE_T_EMPTY", "");
  ConfigLoad r = load_with_base(R"(listener:
  admin_token: "<${SLUICE_T_EMPTY}>"
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "<>");
}

TEST(InterpolateEnv, DirectCases) {
  auto env = [](const char* name) -> const char* {
    std::string n(name);
    if (n == "A") return "alpha";
    if (n == "E") return "";
    return nullptr;
  };
  auto run = [&](std::string_view text) {
    std::string missing;
    auto v = interpolate_env(text, missing, env);
    return v ? *v : "<missing " + missing + ">";
  };
  EXPECT_EQ(run(""), "");
  EXPECT_EQ(run("plain"), "plain");
  EXPECT_EQ(run("${A}"), "alpha");
  EXPECT_EQ(run("x${A}y${A}z"), "xalphayalphaz");
  EXPECT_EQ(run("${B:-bee}"), "bee");
  EXPECT_EQ(run("${A:-bee}"), "alpha");
  EXPECT_EQ(run("${E:-bee}"), "bee");
  EXPECT_EQ(run("${E}"), "");
  EXPECT_EQ(run("${B:-}"), "");
  EXPECT_EQ(run("${B:-a:-b}"), "a:-b");
  EXPECT_EQ(run("$$"), "$");
  EXPECT_EQ(run("$${A}"), "${A}");
  EXPECT_EQ(run("$$$$"), "$$");
  EXPECT_EQ(run("$A"), "$A");
  EXPECT_EQ(run("cost: 5$"), "cost: 5$");
  EXPECT_EQ(run("${A"), "${A");  // unterminated: kept as is
  EXPECT_EQ(run("${B}"), "<missing B>");
  EXPECT_EQ(run("ok ${A} then ${NOPE} end"), "<missing NOPE>");
}

// ---------------------------------------------------------------------------------------------
// One test per class of bad configuration.

TEST(BadConfig, UnknownTopLevelKey) {
  ConfigLoad r = load_with_base(R"(listner:     # line 1
  workers: 2
)");
  EXPECT_TRUE(OnlyError(r, 1, "listner", "unknown key"));
  EXPECT_EQ(r.errors.at(0), "test.yaml:1:1: listner: unknown key");
}

TEST(BadConfig, UnknownNestedKey) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: 2
  max_body_byte: 1MiB     # line 3
)");
  EXPECT_TRUE(OnlyError(r, 3, "listener.max_body_byte", "unknown key"));
  EXPECT_EQ(r.errors.at(0), "test.yaml:3:3: listener.max_body_byte: unknown key");
}

TEST(BadConfig, UnknownKeyInsideAnUpstreamAndAList) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic:
    provider: anthropic
    url: https://api.anthropic.com
    verfy_tls: false               # line 6
routes:
  - prefix: /openai/
    upstream: openai
    strip: true                    # line 10
)");
  EXPECT_TRUE(HasError(r, 6, "upstreams.anthropic.verfy_tls", "unknown key"));
  EXPECT_TRUE(HasError(r, 10, "routes[0].strip", "unknown key"));
  EXPECT_EQ(r.errors.size(), 2u) << join(r.errors);
}

TEST(BadConfig, WrongTypeStringForWorkers) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: many        # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.workers", "expected an integer, got \"many\""));
}

TEST(BadConfig, WrongTypeListForAScalar) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: [1, 2]      # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.workers", "expected a single value"));
}

TEST(BadConfig, WrongTypeBool) {
  ConfigLoad r = load_with_base(R"(log:
  access_log: maybe    # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "log.access_log", "expected true or false, got \"maybe\""));
}

TEST(BadConfig, OutOfRangeWorkers) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: 1000        # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.workers", "must be between 0 and 256, got 1000"));
}

TEST(BadConfig, NegativeWorkers) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: -1          # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.workers", "must be between 0 and 256"));
}

TEST(BadConfig, BadSizeUnit) {
  ConfigLoad r = load_with_base(R"(listener:
  max_body_bytes: 16XB   # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.max_body_bytes",
                        "expected a size such as 65536, 64KiB or 16MiB, got \"16XB\""));
}

TEST(BadConfig, BadSizeOtherForms) {
  for (const char* v : {"MiB", "1.5MiB", "-4096", "16 mib", "16MiBs"}) {
    ConfigLoad r = load_with_base(std::string("listener:\n  max_body_bytes: \"") + v + "\"\n");
    EXPECT_TRUE(OnlyError(r, 2, "listener.max_body_bytes", "expected a size")) << v;
  }
}

TEST(BadConfig, SizeOutOfRangeAndOverflow) {
  ConfigLoad small = load_with_base(R"(listener:
  max_body_bytes: 512     # line 2, minimum is 1024
)");
  EXPECT_TRUE(OnlyError(small, 2, "listener.max_body_bytes", "must be between 1024 and"));
  ConfigLoad huge = load_with_base(R"(listener:
  max_body_bytes: 99999999999999GiB   # line 2
)");
  EXPECT_TRUE(OnlyError(huge, 2, "listener.max_body_bytes", "size too large"));
}

TEST(BadConfig, SizeUnitsAreParsed) {
  ConfigLoad ok = load(R"(listener:
  max_header_bytes: 2048B
  max_body_bytes: 3GB
  max_header_count: 12
upstreams:
  openai: {provider: openai, url: "https://api.openai.com", max_response_body_bytes: 16 MiB, max_sse_event_bytes: 2KB}
  anthropic: {provider: anthropic, url: "https://api.anthropic.com", max_sse_event_bytes: 1GiB}
)");
  ASSERT_NE(ok.config, nullptr) << join(ok.errors);
  EXPECT_EQ(ok.config->listener.max_header_bytes, 2048u);
  EXPECT_EQ(ok.config->listener.max_body_bytes, 3'000'000'000u);
  EXPECT_EQ(ok.config->listener.max_header_count, 12u);
  EXPECT_EQ(ok.config->find_upstream("openai")->max_response_body_bytes, 16u << 20);
  EXPECT_EQ(ok.config->find_upstream("openai")->max_sse_event_bytes, 2000u);
  EXPECT_EQ(ok.config->find_upstream("anthropic")->max_sse_event_bytes, 1u << 30);
}

TEST(BadConfig, BadDurationBareNumber) {
  ConfigLoad r = load_with_base(R"(listener:
  header_timeout: 30     # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "listener.header_timeout",
                        "expected a duration such as 250ms, 30s, 10m or 1h, got \"30\""));
}

TEST(BadConfig, BadDurationUnknownUnit) {
  ConfigLoad r = load_with_base(R"(listener:
  workers: 1
  idle_timeout: 5 parsecs     # line 3
)");
  EXPECT_TRUE(OnlyError(r, 3, "listener.idle_timeout", "expected a duration"));
  EXPECT_NE(r.errors.at(0).find("got \"5 parsecs\""), std::string::npos) << r.errors.at(0);
}

TEST(BadConfig, DurationOutOfRange) {
  ConfigLoad r = load_with_base(R"(listener:
  header_timeout: 2h     # line 2, maximum is 10m
)");
  EXPECT_TRUE(
      OnlyError(r, 2, "listener.header_timeout", "must be between 100ms and 600000ms, got \"2h\""));
}

TEST(BadConfig, DurationUnitsAreParsed) {
  ConfigLoad r = load_with_base(R"(listener:
  header_timeout: 250ms
  body_timeout: 1h
  idle_timeout: 3m
  write_timeout: 7 s
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.header_timeout, 250ms);
  EXPECT_EQ(r.config->listener.body_timeout, 1h);
  EXPECT_EQ(r.config->listener.idle_timeout, 3min);
  EXPECT_EQ(r.config->listener.write_timeout, 7s);
}

TEST(BadConfig, BadListenAddress) {
  for (const char* v :
       {"8080", ":8080", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80a", "[::1]8080", "[::1"}) {
    ConfigLoad r = load_with_base(std::string("listener:\n  address: \"") + v + "\"\n");
    EXPECT_TRUE(OnlyError(r, 2, "listener.address", "expected host:port")) << v;
  }
}

TEST(BadConfig, UrlWithUnsupportedScheme) {
  ConfigLoad r = load(R"(upstreams:
  openai:
    provider: openai
    url: ftp://files.example.com     # line 4
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.openai.url", "scheme must be https or http"));
}

TEST(BadConfig, UrlWithoutScheme) {
  ConfigLoad r = load(R"(upstreams:
  openai:
    provider: openai
    url: api.openai.com              # line 4
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.openai.url", "expected a URL"));
}

TEST(BadConfig, UrlWithoutHost) {
  for (const char* url : {"https://", "https:///v1", "http://:8080"}) {
    ConfigLoad r = load(std::string(R"(upstreams:
  openai:
    provider: openai
    url: ")") + url + R"("
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
    ASSERT_EQ(r.config, nullptr) << url;
    ASSERT_EQ(r.errors.size(), 1u) << url << "\n" << join(r.errors);
    EXPECT_TRUE(HasError(r, 4, "upstreams.openai.url", "")) << url;
    const bool names_host = r.errors[0].find("missing host") != std::string::npos ||
                            r.errors[0].find("bad host:port") != std::string::npos;
    EXPECT_TRUE(names_host) << r.errors[0];
  }
}

TEST(BadConfig, UrlWithCredentials) {
  ConfigLoad r = load(R"(upstreams:
  openai:
    provider: openai
    url: https://user:pw@api.openai.com     # line 4
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.openai.url", "credentials in the URL are not supported"));
}

TEST(BadConfig, UrlWithBadPort) {
  ConfigLoad r = load(R"(upstreams:
  openai:
    provider: openai
    url: https://api.openai.com:99999     # line 4
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.openai.url", "bad host:port"));
}

TEST(BadConfig, UrlForms) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "http://10.1.2.3"}
  anthropic: {provider: anthropic, url: "https://[2001:db8::1]:8443/api/v2//"}
  v6: {provider: openai_compatible, url: "https://[::1]"}
)");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  const UpstreamConfig* oa = r.config->find_upstream("openai");
  EXPECT_EQ(oa->scheme, "http");
  EXPECT_EQ(oa->host, "10.1.2.3");
  EXPECT_EQ(oa->port, 80);
  EXPECT_EQ(oa->base_path, "");
  const UpstreamConfig* an = r.config->find_upstream("anthropic");
  EXPECT_EQ(an->host, "2001:db8::1");
  EXPECT_EQ(an->port, 8443);
  EXPECT_EQ(an->base_path, "/api/v2");  // trailing slashes removed
  const UpstreamConfig* v6 = r.config->find_upstream("v6");
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 443);
  EXPECT_EQ(v6->provider, Provider::kOpenAICompatible);
}

TEST(BadConfig, UpstreamWithoutProvider) {
  ConfigLoad r = load(R"(upstreams:
  openai:
    url: https://api.openai.com      # line 3: the upstream's mapping starts here
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
)");
  EXPECT_TRUE(OnlyError(r, 3, "upstreams.openai", "missing key \"provider\""));
}

TEST(BadConfig, UpstreamWithoutUrl) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic:
    provider: anthropic              # line 4: the upstream's mapping starts here
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.anthropic", "missing key \"url\""));
}

TEST(BadConfig, UpstreamWithUnknownProvider) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic:
    provider: claude                 # line 4
    url: https://api.anthropic.com
)");
  EXPECT_TRUE(OnlyError(r, 4, "upstreams.anthropic.provider",
                        "expected one of openai, anthropic, openai_compatible, got \"claude\""));
}

TEST(BadConfig, UpstreamCaFileMustBeReadable) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic:
    provider: anthropic
    url: https://api.anthropic.com
    ca_file: /nonexistent/sluice-test/ca.pem     # line 6
)");
  EXPECT_TRUE(OnlyError(r, 6, "upstreams.anthropic.ca_file",
                        "cannot read file \"/nonexistent/sluice-test/ca.pem\""));
}

TEST(BadConfig, UpstreamsNotAMapping) {
  ConfigLoad r = load(R"(upstreams:
  - openai           # line 2
routes:
  - {prefix: /x/, upstream: openai}
)");
  ASSERT_EQ(r.config, nullptr);
  EXPECT_TRUE(HasError(r, 2, "upstreams", "expected a mapping"));
}

TEST(BadConfig, RouteToUnknownUpstream) {
  ConfigLoad r = load_with_base(R"(routes:
  - prefix: /x/
    upstream: nope          # line 3
)");
  EXPECT_TRUE(OnlyError(r, 3, "routes[0].upstream", "no upstream named \"nope\""));
}

TEST(BadConfig, RoutePrefixWithoutLeadingSlash) {
  ConfigLoad r = load_with_base(R"(routes:
  - prefix: /ok/
    upstream: openai
  - prefix: openai/         # line 4
    upstream: openai
)");
  EXPECT_TRUE(OnlyError(r, 4, "routes[1].prefix", "must start with /"));
}

TEST(BadConfig, EmptyRouteList) {
  ConfigLoad r = load_with_base(R"(routes: []     # line 1
)");
  EXPECT_TRUE(OnlyError(r, 1, "routes", "at least one route is needed"));
}

TEST(BadConfig, AutoRouteNeedsOpenAIAndAnthropicUpstreams) {
  ConfigLoad r = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
routes:
  - prefix: /            # line 4: the routes list starts here
    upstream: auto
)");
  EXPECT_TRUE(OnlyError(r, 4, "routes", "needs upstreams named openai and anthropic"));
}

TEST(BadConfig, UnknownFilterInChain) {
  ConfigLoad r = load_with_base(R"(filters:
  chain: [model_access, nope]     # line 2
)");
  EXPECT_TRUE(OnlyError(r, 2, "filters.chain", "unknown filter \"nope\""));
}

TEST(BadConfig, UnknownFilterInRouteChain) {
  ConfigLoad r = load_with_base(R"(routes:
  - prefix: /openai/
    upstream: openai
    filters: [model_acess]        # line 4
)");
  EXPECT_TRUE(OnlyError(r, 4, "routes[0].filters", "unknown filter \"model_acess\""));
}

TEST(BadConfig, UnknownFilterSection) {
  ConfigLoad r = load_with_base(R"(filters:
  chain: [model_access]
  pii_redact: {mode: mask}        # line 3
)");
  EXPECT_TRUE(OnlyError(r, 3, "filters.pii_redact", "unknown filter \"pii_redact\""));
}

TEST(BadConfig, UnknownKeyInFilterSection) {
  ConfigLoad r = load_with_base(R"(filters:
  chain: [model_access]
  model_access:
    rules:
      - tenant: acme
        alow: [gpt-4o]            # line 6
)");
  EXPECT_TRUE(OnlyError(r, 6, "filters.model_access.rules[0].alow", "unknown key"));
}

TEST(BadConfig, VirtualKeyTooShort) {
  ConfigLoad r = load_with_base(R"(identity:
  virtual_keys:
    - key: short-key              # line 3
      upstream_keys: {openai: sk-real}
)");
  EXPECT_TRUE(OnlyError(r, 3, "identity.virtual_keys[0].key", "must be at least 16 characters"));
}

TEST(BadConfig, DuplicatedVirtualKey) {
  ConfigLoad r = load_with_base(R"(identity:
  virtual_keys:
    - key: sk-sluice-aaaaaaaaaaaa
      upstream_keys: {openai: sk-1}
    - key: sk-sluice-aaaaaaaaaaaa   # line 5
      upstream_keys: {openai: sk-2}
)");
  EXPECT_TRUE(OnlyError(r, 5, "identity.virtual_keys[1].key", "the same key is listed twice"));
}

TEST(BadConfig, VirtualKeyForUnknownUpstream) {
  ConfigLoad r = load_with_base(R"(identity:
  virtual_keys:
    - key: sk-sluice-aaaaaaaaaaaa
      upstream_keys:
        openai: sk-1
        azure: sk-2                 # line 6
)");
  EXPECT_TRUE(OnlyError(r, 6, "identity.virtual_keys[0].upstream_keys.azure",
                        "no upstream named \"azure\""));
}

TEST(BadConfig, VirtualKeyWithEmptyProviderKey) {
  ConfigLoad r = load_with_base(R"(identity:
  virtual_keys:
    - key: sk-sluice-aaaaaaaaaaaa
      upstream_keys:
        openai: ""                  # line 5
)");
  EXPECT_TRUE(
      OnlyError(r, 5, "identity.virtual_keys[0].upstream_keys.openai", "empty provider key"));
}

TEST(BadConfig, BadProviderKeyFingerprint) {
  for (const char* fp : {"ABCDEF0123456789", "abc", "0123456789abcdef0", "0123456789abcdeg"}) {
    ConfigLoad r = load_with_base(std::string(R"(identity:
  provider_keys:
    - fingerprint: ")") + fp + R"("
      tenant: acme
)");
    EXPECT_TRUE(OnlyError(r, 3, "identity.provider_keys[0].fingerprint",
                          "expected 16 lowercase hex digits"))
        << fp;
  }
}

TEST(BadConfig, EmptyTenant) {
  ConfigLoad r = load_with_base(R"(identity:
  default:
    tenant: ""                      # line 3
)");
  EXPECT_TRUE(OnlyError(r, 3, "identity.default.tenant", "must not be empty"));
}

TEST(BadConfig, BadChoices) {
  ConfigLoad r = load_with_base(R"(passthrough: maybe      # line 1
log:
  level: verbose                  # line 3
)");
  ASSERT_EQ(r.config, nullptr);
  EXPECT_TRUE(HasError(r, 1, "passthrough", "expected one of forward, refuse, got \"maybe\""));
  EXPECT_TRUE(HasError(r, 3, "log.level", "expected one of debug, info, warn, error"));
  EXPECT_EQ(r.errors.size(), 2u) << join(r.errors);
}

TEST(BadConfig, JsonlEnabledWithoutPath) {
  ConfigLoad r = load_with_base(R"(sinks:
  jsonl:
    enabled: true
    events_path: ""               # line 4
)");
  EXPECT_TRUE(OnlyError(r, 4, "sinks.jsonl.events_path", "must not be empty"));
}

TEST(BadConfig, YamlSyntaxErrorReportsItsLine) {
  ConfigLoad r = load(R"(listener:
  workers: 2
  address: a: b                   # line 3: a second ':' on one line
)");
  ASSERT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << join(r.errors);
  EXPECT_EQ(r.errors[0].rfind("test.yaml:3:", 0), 0u) << r.errors[0];
}

TEST(BadConfig, YamlSyntaxErrorUnclosedFlowList) {
  ConfigLoad r = load(R"(listener:
  workers: 2
filters:
  chain: [model_access           # line 4: never closed
log:
  level: info
)");
  ASSERT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << join(r.errors);
  // yaml-cpp notices only where the list should have ended; any line from 4 on is honest.
  const std::string& e = r.errors[0];
  ASSERT_EQ(e.rfind("test.yaml:", 0), 0u) << e;
  int line = std::atoi(e.c_str() + std::string("test.yaml:").size());
  EXPECT_GE(line, 4) << e;
}

TEST(BadConfig, EmptyFileIsRefused) {
  // What the code does: an empty document configures no upstreams, so the default by-header
  // /v1/ route cannot be built; the load fails (it does NOT fall back to conf/sluice.yaml).
  // The only error names `routes` and has no line (there is none to point at).
  for (const char* text : {"", "\n\n", "# only a comment\n", "~\n"}) {
    ConfigLoad r = load(text);
    ASSERT_EQ(r.config, nullptr) << "input: \"" << text << "\"";
    ASSERT_EQ(r.errors.size(), 1u) << join(r.errors);
    EXPECT_EQ(r.errors[0],
              "test.yaml: routes: a route with upstream \"auto\" needs upstreams named openai and "
              "anthropic");
  }
}

TEST(BadConfig, MinimalFileWithOnlyUpstreamsLoads) {
  ConfigLoad r = load(kBase);
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->routes.size(), 3u);
  EXPECT_EQ(r.config->listener.address.port, 8080);  // struct defaults
  EXPECT_TRUE(r.config->filters.empty());            // no chain unless configured
}

TEST(BadConfig, FileThatIsAList) {
  ConfigLoad r = load(R"(- listener
- upstreams
)");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << join(r.errors);
  EXPECT_EQ(r.errors[0].rfind("test.yaml:1:1: ", 0), 0u) << r.errors[0];
  EXPECT_NE(r.errors[0].find("the file must be a mapping"), std::string::npos) << r.errors[0];
}

TEST(BadConfig, FileThatIsAScalar) {
  ConfigLoad r = load("just some text\n");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u) << join(r.errors);
  EXPECT_NE(r.errors[0].find("the file must be a mapping"), std::string::npos) << r.errors[0];
}

TEST(BadConfig, EveryErrorIsReportedInOneLoad) {
  ConfigLoad r = load(R"(listener:
  workers: 1000                   # line 2
  header_timeout: 30              # line 3
  max_body_bytes: 16XB            # line 4
  listen: 0.0.0.0:80              # line 5
upstreams:
  openai:
    provider: openai
    url: ftp://x                  # line 9
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
routes:
  - prefix: nope/                 # line 12
    upstream: ghost               # line 13
log:
  level: loud                     # line 15
)");
  ASSERT_EQ(r.config, nullptr);
  EXPECT_TRUE(HasError(r, 2, "listener.workers", "must be between 0 and 256"));
  EXPECT_TRUE(HasError(r, 3, "listener.header_timeout", "expected a duration"));
  EXPECT_TRUE(HasError(r, 4, "listener.max_body_bytes", "expected a size"));
  EXPECT_TRUE(HasError(r, 5, "listener.listen", "unknown key"));
  EXPECT_TRUE(HasError(r, 9, "upstreams.openai.url", "scheme must be https or http"));
  EXPECT_TRUE(HasError(r, 12, "routes[0].prefix", "must start with /"));
  EXPECT_TRUE(HasError(r, 13, "routes[0].upstream", "no upstream named \"ghost\""));
  EXPECT_TRUE(HasError(r, 15, "log.level", "expected one of"));
  EXPECT_EQ(r.errors.size(), 8u) << join(r.errors);
}

TEST(BadConfig, ValuesReadBeforeAnErrorAreNotHalfApplied) {
  // A config with any error is refused as a whole: no Config at all.
  ConfigLoad r = load_with_base(R"(listener:
  workers: 3
  idle_timeout: soon
)");
  EXPECT_EQ(r.config, nullptr);
  EXPECT_EQ(r.errors.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// BUG (reported, not fixed): a required key missing from a list item (routes[].prefix,
// routes[].upstream, identity.virtual_keys[].key, identity.provider_keys[].fingerprint) is
// reported against the absent child node, whose mark is null, so the error has no line or
// column ("test.yaml: routes[0].prefix: must start with /") although config_loader.h promises
// "file:line:col: dotted.key: message". The upstream case (missing provider/url) reports on the
// parent mapping and does carry a line; these should too.
TEST(ConfigLoaderBug, MissingKeyInListItemHasALine) {
  ConfigLoad route = load_with_base(R"(routes:
  - upstream: openai              # line 2: no prefix
)");
  ASSERT_EQ(route.config, nullptr);
  EXPECT_TRUE(HasError(route, 2, "routes[0].prefix", ""));

  ConfigLoad upstream = load_with_base(R"(routes:
  - prefix: /x/                   # line 2: no upstream
)");
  ASSERT_EQ(upstream.config, nullptr);
  EXPECT_TRUE(HasError(upstream, 2, "routes[0].upstream", ""));

  ConfigLoad vkey = load_with_base(R"(identity:
  virtual_keys:
    - tenant: acme                # line 3: no key
      upstream_keys: {openai: sk-1}
)");
  ASSERT_EQ(vkey.config, nullptr);
  EXPECT_TRUE(HasError(vkey, 3, "identity.virtual_keys[0].key", ""));

  ConfigLoad fp = load_with_base(R"(identity:
  provider_keys:
    - tenant: acme                # line 3: no fingerprint
)");
  ASSERT_EQ(fp.config, nullptr);
  EXPECT_TRUE(HasError(fp, 3, "identity.provider_keys[0].fingerprint", ""));
}

// BUG (reported, not fixed): ConfigNode::read_duration multiplies the parsed number by the
// unit without an overflow check (read_size has one). "576460752303423489m" is (2^59 + 1)
// minutes; times 60000 it wraps to exactly 60000 ms, so a plain build silently accepts it as
// one minute, and the sanitizer build aborts on the signed overflow. Expected: an error such as
// "duration too large". Run in a child process so that a UBSan abort fails only this test.
TEST(ConfigLoaderBug, DurationOverflowIsAnError) {
  EXPECT_EXIT(
      {
        ConfigLoad r = load_with_base(R"(listener:
  header_timeout: 576460752303423489m
)");
        const bool reported = r.config == nullptr && HasError(r, 2, "listener.header_timeout", "");
        std::_Exit(reported ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// BUG (reported, not fixed): a key given twice in one mapping is not reported. YAML requires
// unique keys, and yaml-cpp keeps both entries: ConfigNode::operator[] then reads the first
// one and check_keys() accepts both, so the second value is silently ignored (here
// max_body_bytes stays 1 MiB), and a duplicated upstream name gives two upstreams of the same
// name of which only the first is ever used. yaml_reader.h promises that "a typo never
// silently falls back"; expected: an error naming the key at the second occurrence.
TEST(ConfigLoaderBug, DuplicateKeyIsAnError) {
  ConfigLoad key = load_with_base(R"(listener:
  max_body_bytes: 1MiB
  max_body_bytes: 2MiB            # line 3
)");
  EXPECT_TRUE(key.config == nullptr)
      << "loaded; listener.max_body_bytes = " << key.config->listener.max_body_bytes;
  EXPECT_TRUE(HasError(key, 3, "listener.max_body_bytes", ""));

  ConfigLoad upstream = load(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
  openai: {provider: openai, url: "https://other.example"}      # line 4
)");
  EXPECT_TRUE(upstream.config == nullptr) << "loaded with " << upstream.config->upstreams.size()
                                          << " upstreams; find_upstream(\"openai\") -> "
                                          << upstream.config->find_upstream("openai")->host;
  EXPECT_TRUE(HasError(upstream, 4, "upstreams.openai", ""));
}

// ---------------------------------------------------------------------------------------------
// A full configuration with every key.

class FullConfig : public ::testing::Test {
 protected:
  static std::string data_dir() { return SLUICE_SOURCE_DIR "/tests/conf/data"; }
  ScopedEnv data_{"SLUICE_TEST_DATA_DIR", data_dir()};
  ScopedEnv admin_{"SLUICE_TEST_ADMIN_TOKEN", std::nullopt};
  ScopedEnv key_{"SLUICE_TEST_OPENAI_KEY", std::nullopt};
};

TEST_F(FullConfig, LoadsAndEveryValueLands) {
  const std::string path = data_dir() + "/full.yaml";
  ConfigLoad r = load_config_file(path);
  ASSERT_TRUE(r.errors.empty()) << join(r.errors);
  ASSERT_NE(r.config, nullptr);
  const Config& c = *r.config;
  EXPECT_EQ(c.source_file, path);

  // listener
  EXPECT_EQ(c.listener.address.host, "0.0.0.0");
  EXPECT_EQ(c.listener.address.port, 18080);
  EXPECT_EQ(c.listener.admin_address.host, "::1");
  EXPECT_EQ(c.listener.admin_address.port, 19090);
  EXPECT_EQ(c.listener.workers, 4);
  EXPECT_EQ(c.listener.max_header_bytes, 32u * 1024);
  EXPECT_EQ(c.listener.max_header_count, 200u);
  EXPECT_EQ(c.listener.max_body_bytes, 8'000'000u);
  EXPECT_EQ(c.listener.header_timeout, 5s);
  EXPECT_EQ(c.listener.body_timeout, 2min);
  EXPECT_EQ(c.listener.idle_timeout, 90s);
  EXPECT_EQ(c.listener.write_timeout, 45s);
  EXPECT_EQ(c.listener.drain_timeout, 0ms);
  EXPECT_EQ(c.listener.admin_token, "admin-secret");

  // upstreams, in file order
  ASSERT_EQ(c.upstreams.size(), 3u);
  EXPECT_EQ(c.upstreams[0].name, "openai");
  EXPECT_EQ(c.upstreams[1].name, "anthropic");
  EXPECT_EQ(c.upstreams[2].name, "local");
  const UpstreamConfig& oa = c.upstreams[0];
  EXPECT_EQ(oa.provider, Provider::kOpenAI);
  EXPECT_EQ(oa.scheme, "https");
  EXPECT_EQ(oa.host, "openai.example.com");
  EXPECT_EQ(oa.port, 8443);
  EXPECT_EQ(oa.base_path, "/proxy");
  ASSERT_TRUE(oa.connect_to.has_value());
  EXPECT_EQ(oa.connect_to->host, "10.0.0.5");
  EXPECT_EQ(oa.connect_to->port, 9443);
  EXPECT_EQ(oa.ca_file, data_dir() + "/ca.pem");
  EXPECT_FALSE(oa.verify_tls);
  EXPECT_EQ(oa.connect_timeout, 250ms);
  EXPECT_EQ(oa.first_byte_timeout, 20min);
  EXPECT_EQ(oa.read_timeout, 2min);
  EXPECT_EQ(oa.max_idle_connections, 8u);
  EXPECT_EQ(oa.idle_connection_ttl, 30s);
  EXPECT_EQ(oa.max_response_body_bytes, 2u << 20);
  EXPECT_EQ(oa.max_sse_event_bytes, 64u << 10);
  EXPECT_FALSE(oa.inject_stream_usage);

  const UpstreamConfig& an = c.upstreams[1];
  const UpstreamConfig defaults;
  EXPECT_EQ(an.provider, Provider::kAnthropic);
  EXPECT_EQ(an.scheme, "http");
  EXPECT_EQ(an.host, "anthropic.internal");
  EXPECT_EQ(an.port, 80);
  EXPECT_EQ(an.base_path, "");
  EXPECT_FALSE(an.connect_to.has_value());
  EXPECT_EQ(an.ca_file, "");
  EXPECT_TRUE(an.verify_tls);
  EXPECT_EQ(an.connect_timeout, defaults.connect_timeout);
  EXPECT_EQ(an.first_byte_timeout, defaults.first_byte_timeout);
  EXPECT_EQ(an.read_timeout, defaults.read_timeout);
  EXPECT_EQ(an.max_idle_connections, defaults.max_idle_connections);
  EXPECT_EQ(an.max_response_body_bytes, defaults.max_response_body_bytes);
  EXPECT_TRUE(an.inject_stream_usage);

  const UpstreamConfig& local = c.upstreams[2];
  EXPECT_EQ(local.provider, Provider::kOpenAICompatible);
  EXPECT_EQ(local.scheme, "http");
  EXPECT_EQ(local.host, "::1");
  EXPECT_EQ(local.port, 8000);
  EXPECT_EQ(local.base_path, "/v1");

  // routes, in file order
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].prefix, "/local/");
  EXPECT_TRUE(c.routes[0].strip_prefix);
  EXPECT_EQ(c.routes[0].upstream, "local");
  EXPECT_FALSE(c.routes[0].by_header);
  EXPECT_EQ(c.routes[0].filters, std::vector<std::string>{"model_access"});
  EXPECT_EQ(c.routes[0].passthrough, PassthroughPolicy::kRefuse);
  EXPECT_EQ(c.routes[1].prefix, "/v1/");
  EXPECT_FALSE(c.routes[1].strip_prefix);
  EXPECT_EQ(c.routes[1].upstream, "");
  EXPECT_TRUE(c.routes[1].by_header);
  EXPECT_TRUE(c.routes[1].filters.empty());
  EXPECT_FALSE(c.routes[1].passthrough.has_value());
  EXPECT_EQ(c.routes[2].prefix, "/openai/");
  EXPECT_TRUE(c.routes[2].strip_prefix);
  EXPECT_EQ(c.routes[2].upstream, "openai");
  EXPECT_EQ(c.routes[2].passthrough, PassthroughPolicy::kForward);

  EXPECT_EQ(c.passthrough, PassthroughPolicy::kRefuse);

  // identity
  EXPECT_FALSE(c.identity.allow_provider_keys);
  EXPECT_EQ(c.identity.default_identity.tenant, "shared");
  EXPECT_EQ(c.identity.default_identity.team, "platform");
  EXPECT_EQ(c.identity.default_identity.app, "unknown-app");
  ASSERT_EQ(c.identity.provider_key_identities.size(), 1u);
  const IdentityRule& pk = c.identity.provider_key_identities.at("f3abf2a6cc4f0098");
  EXPECT_EQ(pk.tenant, "acme");
  EXPECT_EQ(pk.team, "research");
  EXPECT_EQ(pk.app, "notebook");
  ASSERT_EQ(c.identity.virtual_keys.size(), 1u);
  const VirtualKey& vk = c.identity.virtual_keys[0];
  EXPECT_EQ(vk.key, "sk-sluice-acme-0123456789");
  EXPECT_EQ(vk.identity.tenant, "acme");
  EXPECT_EQ(vk.identity.team, "search");
  EXPECT_EQ(vk.identity.app, "indexer");
  EXPECT_EQ(vk.upstream_keys, (std::map<std::string, std::string>{{"openai", "sk-openai-real"},
                                                                  {"anthropic", "sk-ant-real"}}));
  // printf %s sk-sluice-acme-0123456789 | sha256sum | cut -c1-16
  EXPECT_EQ(vk.fingerprint, "e7d591ac9a750aa0");

  // filters
  EXPECT_EQ(c.filters, std::vector<std::string>{"model_access"});
  // Every configured filter section is parsed (its own tests check the values), chained or not.
  ASSERT_EQ(c.filter_configs.size(), 4u);
  EXPECT_EQ(c.filter_configs.count("pii"), 1u);
  EXPECT_EQ(c.filter_configs.count("ratelimit"), 1u);
  EXPECT_EQ(c.filter_configs.count("budget"), 1u);
  auto ma =
      std::dynamic_pointer_cast<const model_access::Config>(c.filter_configs.at("model_access"));
  ASSERT_NE(ma, nullptr);
  ASSERT_EQ(ma->rules.size(), 2u);
  EXPECT_EQ(ma->rules[0].tenant, "acme");
  EXPECT_EQ(ma->rules[0].team, "search");
  EXPECT_EQ(ma->rules[0].app, "indexer");
  EXPECT_EQ(ma->rules[0].allow, (std::vector<std::string>{"gpt-4o*", "claude-sonnet-*"}));
  EXPECT_EQ(ma->rules[0].deny, std::vector<std::string>{"*-preview"});
  EXPECT_EQ(ma->rules[1].tenant, "shared");
  EXPECT_FALSE(ma->rules[1].team.has_value());
  EXPECT_FALSE(ma->rules[1].app.has_value());
  EXPECT_TRUE(ma->rules[1].allow.empty());
  EXPECT_EQ(ma->rules[1].deny, std::vector<std::string>{"o1*"});

  // sinks, log
  EXPECT_TRUE(c.jsonl.enabled);
  EXPECT_EQ(c.jsonl.events_path, "/var/log/sluice/events.jsonl");
  EXPECT_EQ(c.jsonl.alerts_path, "/var/log/sluice/alerts.jsonl");
  EXPECT_EQ(c.jsonl.max_queue_records, 1024u);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_TRUE(c.log.access_log);
}

TEST_F(FullConfig, EnvironmentValuesReachTheConfig) {
  ScopedEnv admin("SLUICE_TEST_ADMIN_TOKEN", "from-env");
  ScopedEnv key("SLUICE_TEST_OPENAI_KEY", "sk-from-env");
  ConfigLoad r = load_config_file(data_dir() + "/full.yaml");
  ASSERT_NE(r.config, nullptr) << join(r.errors);
  EXPECT_EQ(r.config->listener.admin_token, "from-env");
  EXPECT_EQ(r.config->identity.virtual_keys.at(0).upstream_keys.at("openai"), "sk-from-env");
}

TEST_F(FullConfig, WithoutItsRequiredVariableTheErrorNamesFileLineAndVariable) {
  ScopedEnv unset("SLUICE_TEST_DATA_DIR", std::nullopt);
  const std::string path = data_dir() + "/full.yaml";
  ConfigLoad r = load_config_file(path);
  ASSERT_EQ(r.config, nullptr);
  // full.yaml line 28: "    ca_file: ${SLUICE_TEST_DATA_DIR}/ca.pem"
  EXPECT_TRUE(HasError(r, 28, "upstreams.openai.ca_file",
                       "environment variable SLUICE_TEST_DATA_DIR is not set", path));
  EXPECT_EQ(r.errors.size(), 1u) << join(r.errors);
}

// Collects the dotted key patterns a YAML document uses, in known_config_keys() notation:
// map keys under `upstreams` and `upstream_keys` become "*", list items "[]".
void collect_keys(const YAML::Node& node, const std::string& path, std::set<std::string>& out) {
  if (node.IsMap()) {
    const bool wildcard =
        path == "upstreams" || path == "sinks.kafka.properties" ||
        (path.size() >= 13 && path.compare(path.size() - 13, 13, "upstream_keys") == 0) ||
        path.ends_with(".prices.models") || path.ends_with(".entities");
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = wildcard ? "*" : it->first.as<std::string>();
      collect_keys(it->second, path.empty() ? key : path + "." + key, out);
    }
  } else if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) {
    for (const auto& item : node) collect_keys(item, path + "[]", out);
  } else {
    out.insert(path);  // a scalar or a list of scalars: a leaf key
  }
}

TEST_F(FullConfig, UsesExactlyTheKnownKeys) {
  YAML::Node doc = YAML::LoadFile(data_dir() + "/full.yaml");
  std::set<std::string> used;
  collect_keys(doc, "", used);
  std::vector<std::string> known_list = known_config_keys();
  std::set<std::string> known(known_list.begin(), known_list.end());
  for (const auto& k : used) EXPECT_TRUE(known.count(k)) << "full.yaml uses unknown key " << k;
  for (const auto& k : known) {
    // A key that only groups others ("filters.budget.rules") is used through its children.
    bool parent = false;
    for (const auto& other : known)
      parent = parent || (other.size() > k.size() && other.compare(0, k.size(), k) == 0 &&
                          (other[k.size()] == '.' || other[k.size()] == '['));
    if (!parent) EXPECT_TRUE(used.count(k)) << "full.yaml lacks key " << k;
  }
}

TEST(KnownConfigKeys, ContainsTheDocumentedExamples) {
  std::vector<std::string> keys = known_config_keys();
  std::set<std::string> set(keys.begin(), keys.end());
  EXPECT_EQ(set.size(), keys.size()) << "duplicates in known_config_keys()";
  for (const char* k : {"listener.max_body_bytes",
                        "listener.address",
                        "listener.admin_token",
                        "upstreams.*.url",
                        "upstreams.*.provider",
                        "upstreams.*.inject_stream_usage",
                        "routes[].prefix",
                        "routes[].strip_prefix",
                        "routes[].upstream",
                        "passthrough",
                        "identity.allow_provider_keys",
                        "identity.default.tenant",
                        "identity.provider_keys[].fingerprint",
                        "identity.virtual_keys[].key",
                        "identity.virtual_keys[].upstream_keys.*",
                        "filters.chain",
                        "filters.model_access.rules[].allow",
                        "filters.model_access.rules[].deny",
                        "sinks.jsonl.events_path",
                        "log.level"}) {
    EXPECT_TRUE(set.count(k)) << k;
  }
  // Sections are not keys of their own; only leaves are listed.
  EXPECT_FALSE(set.count("listener"));
  EXPECT_FALSE(set.count("upstreams"));
}

TEST(KnownConfigKeys, EmbeddedDefaultUsesOnlyKnownKeys) {
  YAML::Node doc = YAML::Load(std::string(embedded_default_config()));
  std::set<std::string> used;
  collect_keys(doc, "", used);
  std::vector<std::string> known_list = known_config_keys();
  std::set<std::string> known(known_list.begin(), known_list.end());
  for (const auto& k : used) {
    if (k == "filters.model_access.rules") continue;  // `rules: []`, an empty list of rules
    EXPECT_TRUE(known.count(k)) << k;
  }
}

// ---------------------------------------------------------------------------------------------
// load_config_file

TEST(LoadConfigFile, MissingPathNamesThePath) {
  const std::string path = "/nonexistent/sluice-test-dir/sluice.yaml";
  ConfigLoad r = load_config_file(path);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find(path), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("cannot open"), std::string::npos) << r.errors[0];
}

TEST(LoadConfigFile, ErrorsNameTheFilePath) {
  std::string path = ::testing::TempDir() + "sluice_config_loader_test_bad.yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "listener:\n  workers: lots\n" << kBase;
  }
  ConfigLoad r = load_config_file(path);
  std::remove(path.c_str());
  ASSERT_EQ(r.config, nullptr);
  EXPECT_TRUE(HasError(r, 2, "listener.workers", "expected an integer", path));
}

// ---------------------------------------------------------------------------------------------
// ConfigNode / ConfigErrors directly.

TEST(ConfigErrors, FormatsFileLineColumnKeyMessage) {
  ConfigErrors errors("f.yaml");
  YAML::Mark mark;
  mark.line = 4;
  mark.column = 2;
  errors.add(mark, "a.b", "bad");
  errors.add(YAML::Mark::null_mark(), "c", "worse");
  errors.add(mark, "", "no key");
  ASSERT_EQ(errors.all().size(), 3u);
  EXPECT_EQ(errors.all()[0], "f.yaml:5:3: a.b: bad");
  EXPECT_EQ(errors.all()[1], "f.yaml: c: worse");
  EXPECT_EQ(errors.all()[2], "f.yaml:5:3: no key");
  EXPECT_FALSE(errors.empty());
  EXPECT_EQ(errors.file(), "f.yaml");
}

TEST(ConfigNode, ReadersLeaveValuesUnchangedWhenAbsent) {
  ConfigErrors errors("n.yaml");
  ConfigNode root(YAML::Load("a: 1\nnull_value: ~\n"), "", &errors);
  std::string s = "keep";
  bool b = true;
  int i = 42;
  std::size_t z = 7;
  std::chrono::milliseconds d{9};
  std::vector<std::string> list{"x"};
  root["missing"].read(s);
  root["missing"].read(b);
  root["missing"].read(i, 0, 100);
  root["missing"].read_size(z, 0, 100);
  root["missing"].read_duration(d, 0ms, 1h);
  root["missing"].read_list(list);
  root["null_value"].read(s);
  EXPECT_EQ(root["missing"].read_choice({"a"}), -1);
  EXPECT_EQ(s, "keep");
  EXPECT_TRUE(b);
  EXPECT_EQ(i, 42);
  EXPECT_EQ(z, 7u);
  EXPECT_EQ(d, 9ms);
  EXPECT_EQ(list, std::vector<std::string>{"x"});
  EXPECT_TRUE(errors.empty()) << join(errors.all());
  EXPECT_EQ(root["a"]["b"].path(), "a.b");
  EXPECT_FALSE(root["a"]["b"].defined());
}

TEST(ConfigNode, BoolSpellings) {
  ConfigErrors errors("n.yaml");
  ConfigNode root(YAML::Load("t1: true\nt2: yes\nt3: on\nf1: false\nf2: no\nf3: off\n"), "",
                  &errors);
  for (const char* k : {"t1", "t2", "t3"}) {
    bool b = false;
    root[k].read(b);
    EXPECT_TRUE(b) << k;
  }
  for (const char* k : {"f1", "f2", "f3"}) {
    bool b = true;
    root[k].read(b);
    EXPECT_FALSE(b) << k;
  }
  EXPECT_TRUE(errors.empty()) << join(errors.all());
}

}  // namespace
}  // namespace sluice
