// Tests for proxy/router.{h,cc}: route selection (longest prefix, bare prefix, by-header "auto"
// routes), prefix stripping, upstream base paths, queries, and the API kind per provider.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "conf/config_loader.h"
#include "proxy/router.h"

namespace sluice {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

// The embedded default, with the environment variables it reads cleared.
ConfigPtr default_config() {
  for (const char* v : {"SLUICE_LISTEN", "SLUICE_ADMIN_LISTEN", "SLUICE_OPENAI_URL",
                        "SLUICE_ANTHROPIC_URL", "SLUICE_UPSTREAM_CA", "SLUICE_EVENTS_PATH"})
    ::unsetenv(v);
  ConfigLoad r = load_config_text(embedded_default_config(), "<embedded>");
  EXPECT_TRUE(r.errors.empty()) << join(r.errors);
  return r.config;
}

ConfigPtr config_from(const std::string& yaml) {
  ConfigLoad r = load_config_text(yaml, "router_test.yaml");
  EXPECT_TRUE(r.errors.empty()) << join(r.errors);
  return r.config;
}

class DefaultRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = default_config();
    ASSERT_NE(config_, nullptr);
  }
  RouteMatch route(std::string_view method, std::string_view target, bool anthropic = false) {
    return route_request(*config_, method, target, anthropic);
  }
  ConfigPtr config_;
};

TEST_F(DefaultRoutes, ChatCompletionsWithoutAnthropicHeadersGoesToOpenAI) {
  RouteMatch m = route("POST", "/v1/chat/completions");
  ASSERT_NE(m.route, nullptr);
  ASSERT_NE(m.upstream, nullptr);
  EXPECT_EQ(m.route->prefix, "/v1/");
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kChatCompletions);
  EXPECT_EQ(m.upstream_target, "/v1/chat/completions");
  EXPECT_EQ(m.path, "/v1/chat/completions");
}

TEST_F(DefaultRoutes, MessagesWithAnthropicHeadersGoesToAnthropic) {
  RouteMatch m = route("POST", "/v1/messages", true);
  ASSERT_NE(m.route, nullptr);
  ASSERT_NE(m.upstream, nullptr);
  EXPECT_EQ(m.upstream->name, "anthropic");
  EXPECT_EQ(m.upstream->provider, Provider::kAnthropic);
  EXPECT_EQ(m.api, ApiKind::kMessages);
  EXPECT_EQ(m.upstream_target, "/v1/messages");
  EXPECT_EQ(m.path, "/v1/messages");
}

TEST_F(DefaultRoutes, MessagesWithoutAnthropicHeadersGoesToOpenAIAsPassthrough) {
  RouteMatch m = route("POST", "/v1/messages", false);
  ASSERT_NE(m.upstream, nullptr);
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kPassthrough);
}

TEST_F(DefaultRoutes, OpenAIPrefixIsStripped) {
  RouteMatch m = route("POST", "/openai/v1/responses");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->prefix, "/openai/");
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kResponses);
  EXPECT_EQ(m.upstream_target, "/v1/responses");
  EXPECT_EQ(m.path, "/v1/responses");
}

TEST_F(DefaultRoutes, PrefixRouteIgnoresTheAnthropicHeaders) {
  RouteMatch m = route("POST", "/openai/v1/chat/completions", true);
  ASSERT_NE(m.upstream, nullptr);
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kChatCompletions);
}

TEST_F(DefaultRoutes, QueryIsKeptInTargetButNotInPath) {
  RouteMatch m = route("POST", "/anthropic/v1/messages?beta=true");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream->name, "anthropic");
  EXPECT_EQ(m.api, ApiKind::kMessages);
  EXPECT_EQ(m.upstream_target, "/v1/messages?beta=true");
  EXPECT_EQ(m.path, "/v1/messages");
}

TEST_F(DefaultRoutes, QueryOnTheByHeaderRoute) {
  RouteMatch m = route("GET", "/v1/models?limit=2&after=x", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream_target, "/v1/models?limit=2&after=x");
  EXPECT_EQ(m.path, "/v1/models");
  EXPECT_EQ(m.api, ApiKind::kPassthrough);
}

TEST_F(DefaultRoutes, GetModelsIsPassthrough) {
  RouteMatch m = route("GET", "/v1/models");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kPassthrough);
  EXPECT_EQ(m.upstream_target, "/v1/models");
}

TEST_F(DefaultRoutes, GetOnAModelledPathIsPassthrough) {
  EXPECT_EQ(route("GET", "/v1/chat/completions").api, ApiKind::kPassthrough);
  EXPECT_EQ(route("GET", "/v1/messages", true).api, ApiKind::kPassthrough);
}

TEST_F(DefaultRoutes, CountTokensIsPassthroughOnAnthropic) {
  RouteMatch m = route("POST", "/v1/messages/count_tokens", true);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream->name, "anthropic");
  EXPECT_EQ(m.api, ApiKind::kPassthrough);
  EXPECT_EQ(m.upstream_target, "/v1/messages/count_tokens");
}

TEST_F(DefaultRoutes, Embeddings) {
  RouteMatch m = route("POST", "/v1/embeddings");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.api, ApiKind::kEmbeddings);
  EXPECT_EQ(route("POST", "/openai/v1/embeddings").api, ApiKind::kEmbeddings);
}

TEST_F(DefaultRoutes, BarePrefixWithoutTrailingSlash) {
  RouteMatch m = route("GET", "/openai");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->prefix, "/openai/");
  EXPECT_EQ(m.upstream->name, "openai");
  EXPECT_EQ(m.path, "/");
  EXPECT_EQ(m.upstream_target, "/");
  RouteMatch q = route("GET", "/anthropic?x=1");
  ASSERT_NE(q.route, nullptr);
  EXPECT_EQ(q.upstream->name, "anthropic");
  EXPECT_EQ(q.path, "/");
  EXPECT_EQ(q.upstream_target, "/?x=1");
}

TEST_F(DefaultRoutes, PrefixRouteWithOnlyItsSlash) {
  RouteMatch m = route("GET", "/openai/");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.path, "/");
  EXPECT_EQ(m.upstream_target, "/");
}

TEST_F(DefaultRoutes, PathsOutsideTheRoutesAreNotFound) {
  // conf/sluice.yaml: "anything else -> 404".
  for (const char* target : {"/", "/x", "/healthz", "/v2/chat/completions", "/openaix/v1",
                             "/OPENAI/v1/chat/completions", "v1/chat/completions", ""}) {
    RouteMatch m = route("POST", target);
    EXPECT_EQ(m.route, nullptr) << target;
    EXPECT_EQ(m.upstream, nullptr) << target;
  }
}

TEST_F(DefaultRoutes, BareV1SelectsTheByHeaderRoute) {
  RouteMatch m = route("GET", "/v1");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->prefix, "/v1/");
  EXPECT_EQ(m.path, "/v1");  // the by-header route keeps the path
}

TEST_F(DefaultRoutes, TrailingSlashStillSelectsTheApi) {
  EXPECT_EQ(route("POST", "/v1/chat/completions/").api, ApiKind::kChatCompletions);
  EXPECT_EQ(route("POST", "/v1/messages/", true).api, ApiKind::kMessages);
}

// ---------------------------------------------------------------------------------------------
// Custom routes

TEST(CustomRoutes, UpstreamBasePathIsPrepended) {
  ConfigPtr c = config_from(R"(upstreams:
  openai: {provider: openai, url: "https://h/base"}
  anthropic: {provider: anthropic, url: "https://a.example/api/"}
)");
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/openai/v1/chat/completions?x=1", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.upstream->base_path, "/base");
  EXPECT_EQ(m.upstream_target, "/base/v1/chat/completions?x=1");
  EXPECT_EQ(m.path, "/v1/chat/completions");  // the path excludes the base path
  EXPECT_EQ(m.api, ApiKind::kChatCompletions);

  RouteMatch a = route_request(*c, "POST", "/v1/messages", true);
  ASSERT_NE(a.route, nullptr);
  EXPECT_EQ(a.upstream_target, "/api/v1/messages");
  EXPECT_EQ(a.api, ApiKind::kMessages);
}

constexpr const char* kCustom = R"(upstreams:
  a: {provider: openai, url: "https://a.example"}
  b: {provider: openai_compatible, url: "http://b.example:8000/v1"}
  c: {provider: anthropic, url: "https://c.example"}
routes:
  - {prefix: /team/, upstream: a}
  - {prefix: /team/special/, upstream: b}
  - {prefix: /claude/, upstream: c}
  - {prefix: /keep/, upstream: a, strip_prefix: false}
)";

TEST(CustomRoutes, NoMatchingRouteGivesNull) {
  ConfigPtr c = config_from(kCustom);
  ASSERT_NE(c, nullptr);
  for (const char* target : {"/x", "/", "/v1/chat/completions", "/openai/v1/chat/completions"}) {
    RouteMatch m = route_request(*c, "POST", target, false);
    EXPECT_EQ(m.route, nullptr) << target;
    EXPECT_EQ(m.upstream, nullptr) << target;
    EXPECT_EQ(m.api, ApiKind::kPassthrough) << target;
  }
}

TEST(CustomRoutes, LongestPrefixWins) {
  ConfigPtr c = config_from(kCustom);
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/team/special/chat/completions", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->prefix, "/team/special/");
  EXPECT_EQ(m.upstream->name, "b");
  EXPECT_EQ(m.path, "/chat/completions");
  EXPECT_EQ(m.upstream_target, "/v1/chat/completions");
  EXPECT_EQ(m.api, ApiKind::kChatCompletions);  // openai_compatible uses the OpenAI kinds

  RouteMatch s = route_request(*c, "POST", "/team/specialist/v1/responses", false);
  ASSERT_NE(s.route, nullptr);
  EXPECT_EQ(s.route->prefix, "/team/");
  EXPECT_EQ(s.upstream->name, "a");
  EXPECT_EQ(s.path, "/specialist/v1/responses");
  EXPECT_EQ(s.api, ApiKind::kResponses);
}

TEST(CustomRoutes, LongestPrefixWinsRegardlessOfOrder) {
  ConfigPtr c = config_from(R"(upstreams:
  a: {provider: openai, url: "https://a.example"}
  b: {provider: openai, url: "https://b.example"}
routes:
  - {prefix: /x/y/, upstream: b}
  - {prefix: /x/, upstream: a}
)");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(route_request(*c, "GET", "/x/y/z", false).upstream->name, "b");
  EXPECT_EQ(route_request(*c, "GET", "/x/z", false).upstream->name, "a");
  EXPECT_EQ(route_request(*c, "GET", "/x/y", false).upstream->name, "b");  // bare prefix
}

TEST(CustomRoutes, StripPrefixFalseKeepsThePath) {
  ConfigPtr c = config_from(kCustom);
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/keep/v1/chat/completions", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.path, "/keep/v1/chat/completions");
  EXPECT_EQ(m.upstream_target, "/keep/v1/chat/completions");
  EXPECT_EQ(m.api, ApiKind::kChatCompletions);
}

TEST(CustomRoutes, AnthropicUpstreamOnlyModelsMessages) {
  ConfigPtr c = config_from(kCustom);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(route_request(*c, "POST", "/claude/v1/messages", false).api, ApiKind::kMessages);
  EXPECT_EQ(route_request(*c, "POST", "/claude/v1/chat/completions", false).api,
            ApiKind::kPassthrough);
  EXPECT_EQ(route_request(*c, "POST", "/claude/v1/complete", false).api, ApiKind::kPassthrough);
}

TEST(CustomRoutes, RootRouteKeepsThePath) {
  ConfigPtr c = config_from(R"(upstreams:
  a: {provider: openai, url: "https://a.example/base"}
routes:
  - {prefix: /, upstream: a}
)");
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/v1/chat/completions", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.path, "/v1/chat/completions");
  EXPECT_EQ(m.upstream_target, "/base/v1/chat/completions");
  RouteMatch root = route_request(*c, "GET", "/", false);
  ASSERT_NE(root.route, nullptr);
  EXPECT_EQ(root.path, "/");
}

TEST(CustomRoutes, PrefixWithoutTrailingSlashAtASegmentBoundary) {
  ConfigPtr c = config_from(R"(upstreams:
  a: {provider: openai, url: "https://a.example"}
routes:
  - {prefix: /api, upstream: a}
)");
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/api/v1/chat/completions", false);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.path, "/v1/chat/completions");
  RouteMatch bare = route_request(*c, "GET", "/api", false);
  ASSERT_NE(bare.route, nullptr);
  EXPECT_EQ(bare.path, "/");
}

// BUG (reported, not fixed): a prefix without a trailing slash ("/api") is compared as a plain
// string prefix, so it also matches "/apiv1/chat/completions" in the middle of a path segment,
// and stripping it leaves "v1/chat/completions" without the leading "/" that
// RouteConfig::strip_prefix promises ("remove the prefix (keeping a leading "/")"). The
// request line sent upstream is then "POST v1/chat/completions HTTP/1.1". Expected: either no
// match (404) or a path that starts with "/".
TEST(RouterBug, PrefixWithoutTrailingSlashMatchesInsideASegment) {
  ConfigPtr c = config_from(R"(upstreams:
  a: {provider: openai, url: "https://a.example"}
routes:
  - {prefix: /api, upstream: a}
)");
  ASSERT_NE(c, nullptr);
  RouteMatch m = route_request(*c, "POST", "/apiv1/chat/completions", false);
  if (m.route != nullptr) {
    EXPECT_EQ(m.path.front(), '/') << "path: " << m.path;
    EXPECT_EQ(m.upstream_target.front(), '/') << "upstream_target: " << m.upstream_target;
  }
}

TEST(CustomRoutes, ByHeaderRouteFromConfig) {
  ConfigPtr c = config_from(R"(upstreams:
  openai: {provider: openai, url: "https://api.openai.com"}
  anthropic: {provider: anthropic, url: "https://api.anthropic.com"}
routes:
  - {prefix: /llm/, upstream: auto}
)");
  ASSERT_NE(c, nullptr);
  RouteMatch o = route_request(*c, "POST", "/llm/v1/chat/completions", false);
  ASSERT_NE(o.route, nullptr);
  EXPECT_EQ(o.upstream->name, "openai");
  EXPECT_EQ(o.upstream_target, "/v1/chat/completions");  // strip_prefix defaults to true
  RouteMatch a = route_request(*c, "POST", "/llm/v1/messages", true);
  ASSERT_NE(a.route, nullptr);
  EXPECT_EQ(a.upstream->name, "anthropic");
  EXPECT_EQ(a.api, ApiKind::kMessages);
}

TEST(CustomRoutes, RouteToAMissingUpstreamIsNotFound) {
  // The loader refuses such configs; the router must still not dereference a null upstream.
  Config c;
  RouteConfig r;
  r.prefix = "/x/";
  r.upstream = "gone";
  c.routes.push_back(r);
  RouteMatch m = route_request(c, "GET", "/x/y", false);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.upstream, nullptr);
}

// ---------------------------------------------------------------------------------------------
// api_for

TEST(ApiFor, OpenAIShapes) {
  for (Provider p : {Provider::kOpenAI, Provider::kOpenAICompatible}) {
    EXPECT_EQ(api_for(p, "POST", "/v1/chat/completions"), ApiKind::kChatCompletions);
    EXPECT_EQ(api_for(p, "POST", "/chat/completions"), ApiKind::kChatCompletions);
    EXPECT_EQ(api_for(p, "POST", "/v1/responses"), ApiKind::kResponses);
    EXPECT_EQ(api_for(p, "POST", "/v1/embeddings"), ApiKind::kEmbeddings);
    EXPECT_EQ(api_for(p, "POST", "/v1/embeddings//"), ApiKind::kEmbeddings);
    EXPECT_EQ(api_for(p, "POST", "/v1/messages"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "POST", "/v1/responses/resp_123/cancel"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "POST", "/v1/files"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "GET", "/v1/responses"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "DELETE", "/v1/chat/completions"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "post", "/v1/chat/completions"),
              ApiKind::kPassthrough);  // methods are case-sensitive
    EXPECT_EQ(api_for(p, "POST", "/"), ApiKind::kPassthrough);
    EXPECT_EQ(api_for(p, "POST", ""), ApiKind::kPassthrough);
  }
}

TEST(ApiFor, AnthropicShapes) {
  EXPECT_EQ(api_for(Provider::kAnthropic, "POST", "/v1/messages"), ApiKind::kMessages);
  EXPECT_EQ(api_for(Provider::kAnthropic, "POST", "/v1/messages/"), ApiKind::kMessages);
  EXPECT_EQ(api_for(Provider::kAnthropic, "POST", "/v1/messages/count_tokens"),
            ApiKind::kPassthrough);
  EXPECT_EQ(api_for(Provider::kAnthropic, "POST", "/v1/messages/batches"), ApiKind::kPassthrough);
  EXPECT_EQ(api_for(Provider::kAnthropic, "POST", "/v1/chat/completions"), ApiKind::kPassthrough);
  EXPECT_EQ(api_for(Provider::kAnthropic, "GET", "/v1/messages"), ApiKind::kPassthrough);
}

}  // namespace
}  // namespace sluice
