// Tests for filters/model_access: glob matching, rule selection by identity, the allow/deny
// decision, the 403 answer in each provider's shape, the alert, the counters, and parsing of
// the filters.model_access section.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <memory>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/model_access/config.h"
#include "filters/model_access/filter.h"
#include "filters/registry.h"

namespace sluice {
namespace {

using model_access::glob_match;

// ---------------------------------------------------------------------------------------------
// glob_match

TEST(GlobMatch, Empty) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_FALSE(glob_match("a", ""));
  EXPECT_FALSE(glob_match("?", ""));
}

TEST(GlobMatch, Star) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "gpt-4o"));
  EXPECT_TRUE(glob_match("**", "x"));
  EXPECT_TRUE(glob_match("***", ""));
}

TEST(GlobMatch, Exact) {
  EXPECT_TRUE(glob_match("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(glob_match("gpt-4o", "gpt-4o-mini"));
  EXPECT_FALSE(glob_match("gpt-4o-mini", "gpt-4o"));
  EXPECT_FALSE(glob_match("GPT-4o", "gpt-4o"));  // case-sensitive
}

TEST(GlobMatch, QuestionMark) {
  EXPECT_TRUE(glob_match("gpt-4?", "gpt-4o"));
  EXPECT_FALSE(glob_match("gpt-4?", "gpt-4"));
  EXPECT_FALSE(glob_match("gpt-4?", "gpt-4o1"));
  EXPECT_TRUE(glob_match("???", "abc"));
  EXPECT_TRUE(glob_match("a?c*", "abc-123"));
}

TEST(GlobMatch, Prefix) {
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o"));
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o-mini-2024-07-18"));
  EXPECT_FALSE(glob_match("gpt-4o*", "gpt-4"));
  EXPECT_FALSE(glob_match("gpt-4o*", "xgpt-4o"));
}

TEST(GlobMatch, Suffix) {
  EXPECT_TRUE(glob_match("*-preview", "gpt-4o-preview"));
  EXPECT_TRUE(glob_match("*-preview", "-preview"));
  EXPECT_FALSE(glob_match("*-preview", "gpt-4o-preview-2"));
  EXPECT_TRUE(glob_match("*a", "ba"));
  EXPECT_TRUE(glob_match("*a", "aaa"));
  EXPECT_FALSE(glob_match("*a", "ab"));
}

TEST(GlobMatch, Middle) {
  EXPECT_TRUE(glob_match("claude-*-4*", "claude-sonnet-4-5"));
  EXPECT_TRUE(glob_match("claude-*-4*", "claude-opus-4"));
  EXPECT_FALSE(glob_match("claude-*-4*", "claude-3-haiku"));
  EXPECT_TRUE(glob_match("a*b*c", "abxbc"));
  EXPECT_TRUE(glob_match("a*b*c", "abc"));
  EXPECT_FALSE(glob_match("a*b*c", "acb"));
  EXPECT_TRUE(glob_match("*mini*", "gpt-4o-mini-2024"));
  EXPECT_TRUE(glob_match("a*?c", "abbc"));
  EXPECT_FALSE(glob_match("a*?c", "ac"));
}

TEST(GlobMatch, NoBacktrackingBlowup) {
  const std::string text = std::string(200'000, 'a') + "c";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(glob_match("a*a*a*a*b", text));
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("a*a*a*a*c", text));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Linear work is well under a millisecond; an exponential matcher never finishes. The bound
  // is loose for the sanitizer build on a busy machine.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------------------------
// Rules and the filter decision.

std::shared_ptr<const model_access::Config> parse_rules(const std::string& yaml) {
  ConfigErrors errors("test.yaml");
  auto cfg =
      model_access::parse_config(ConfigNode(YAML::Load(yaml), "filters.model_access", &errors));
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.all()[0]);
  return std::static_pointer_cast<const model_access::Config>(cfg);
}

Identity make_identity(std::string tenant, std::string team = "", std::string app = "") {
  Identity id;
  id.tenant = std::move(tenant);
  id.team = std::move(team);
  id.app = std::move(app);
  id.key_kind = "virtual";
  return id;
}

StreamContext make_ctx(Identity id, std::string model, Provider provider = Provider::kOpenAI,
                       ApiKind api = ApiKind::kChatCompletions) {
  StreamContext ctx;
  ctx.identity = std::move(id);
  ctx.provider = provider;
  ctx.api = api;
  ctx.request.model = std::move(model);
  return ctx;
}

struct Counters {
  std::uint64_t checked, allowed, denied, no_model;
  static Counters now() {
    auto* s = model_access::stats();
    return {s->get("checked"), s->get("allowed"), s->get("denied"), s->get("no_model")};
  }
  Counters operator-(const Counters& o) const {
    return {checked - o.checked, allowed - o.allowed, denied - o.denied, no_model - o.no_model};
  }
};

class ModelAccess : public ::testing::Test {
 protected:
  FilterStatus run(const std::shared_ptr<const model_access::Config>& cfg, StreamContext& ctx) {
    model_access::ModelAccessFilter f(cfg);
    return f.on_request(ctx);
  }
  bool allowed(const std::shared_ptr<const model_access::Config>& cfg, const Identity& id,
               const std::string& model) {
    StreamContext ctx = make_ctx(id, model);
    return run(cfg, ctx) == FilterStatus::kContinue;
  }
};

TEST_F(ModelAccess, RuleMatchingByTenantTeamApp) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, team: search, app: bot, allow: ["m-app"]}
  - {tenant: acme, team: search, allow: ["m-team"]}
  - {tenant: acme, allow: ["m-tenant"]}
  - {team: ops, allow: ["m-ops"]}
)");
  ASSERT_EQ(cfg->rules.size(), 4u);
  EXPECT_EQ(cfg->rule_for(make_identity("acme", "search", "bot")), &cfg->rules[0]);
  EXPECT_EQ(cfg->rule_for(make_identity("acme", "search", "other")), &cfg->rules[1]);
  EXPECT_EQ(cfg->rule_for(make_identity("acme", "research", "bot")), &cfg->rules[2]);
  EXPECT_EQ(cfg->rule_for(make_identity("globex", "ops")), &cfg->rules[3]);
  EXPECT_EQ(cfg->rule_for(make_identity("acme", "ops")), &cfg->rules[2]);  // first match wins
  EXPECT_EQ(cfg->rule_for(make_identity("globex", "search", "bot")), nullptr);
  EXPECT_EQ(cfg->rule_for(make_identity("ACME", "search", "bot")), nullptr);  // exact match

  EXPECT_TRUE(allowed(cfg, make_identity("acme", "search", "bot"), "m-app"));
  EXPECT_FALSE(allowed(cfg, make_identity("acme", "search", "bot"), "m-team"));
  EXPECT_TRUE(allowed(cfg, make_identity("acme", "search", "x"), "m-team"));
  EXPECT_TRUE(allowed(cfg, make_identity("acme", "", ""), "m-tenant"));
  EXPECT_FALSE(allowed(cfg, make_identity("acme", "", ""), "m-app"));
  EXPECT_TRUE(allowed(cfg, make_identity("x", "ops"), "m-ops"));
}

TEST_F(ModelAccess, RuleFieldsMatchEmptyValuesExactly) {
  // `team: ""` matches only an identity whose team is empty.
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, team: "", allow: ["only-this"]}
)");
  EXPECT_NE(cfg->rule_for(make_identity("acme", "")), nullptr);
  EXPECT_EQ(cfg->rule_for(make_identity("acme", "search")), nullptr);
}

TEST_F(ModelAccess, DenyIsCheckedBeforeAllow) {
  auto cfg = parse_rules(R"(rules:
  - tenant: acme
    allow: ["gpt-4o*", "claude-sonnet-*"]
    deny: ["*-preview"]
)");
  const Identity id = make_identity("acme");
  EXPECT_TRUE(allowed(cfg, id, "gpt-4o"));
  EXPECT_TRUE(allowed(cfg, id, "gpt-4o-mini"));
  EXPECT_TRUE(allowed(cfg, id, "claude-sonnet-4-5"));
  EXPECT_FALSE(allowed(cfg, id, "gpt-4o-preview"));  // matches allow and deny: denied
  EXPECT_FALSE(allowed(cfg, id, "claude-opus-4"));   // not in the allow-list
  EXPECT_FALSE(allowed(cfg, id, "o1"));
}

TEST_F(ModelAccess, DenyOnlyRuleAllowsEverythingElse) {
  auto cfg = parse_rules(R"(rules:
  - tenant: acme
    deny: ["o1*", "gpt-4.5*"]
)");
  const Identity id = make_identity("acme");
  EXPECT_TRUE(allowed(cfg, id, "gpt-4o"));
  EXPECT_FALSE(allowed(cfg, id, "o1-pro"));
  EXPECT_FALSE(allowed(cfg, id, "gpt-4.5-preview"));
}

TEST_F(ModelAccess, NoMatchingRuleIsAllowed) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o"]}
)");
  auto before = Counters::now();
  StreamContext ctx = make_ctx(make_identity("globex"), "anything-at-all");
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kContinue);
  auto d = Counters::now() - before;
  EXPECT_EQ(d.checked, 1u);
  EXPECT_EQ(d.allowed, 1u);
  EXPECT_EQ(d.denied, 0u);
  EXPECT_EQ(ctx.reply.status, 0);
  EXPECT_TRUE(ctx.alerts.empty());
}

TEST_F(ModelAccess, NoRulesAtAllIsAllowed) {
  auto cfg = parse_rules("rules: []\n");
  StreamContext ctx = make_ctx(make_identity("acme"), "gpt-4o");
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kContinue);
}

TEST_F(ModelAccess, EmptyModelOnModelledApiWithAllowListIsDenied) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o*"]}
)");
  for (ApiKind api :
       {ApiKind::kChatCompletions, ApiKind::kResponses, ApiKind::kEmbeddings, ApiKind::kMessages}) {
    auto before = Counters::now();
    StreamContext ctx = make_ctx(make_identity("acme"), "", Provider::kOpenAI, api);
    EXPECT_EQ(run(cfg, ctx), FilterStatus::kRespond) << to_string(api);
    auto d = Counters::now() - before;
    EXPECT_EQ(d.checked, 1u);
    EXPECT_EQ(d.denied, 1u);
    EXPECT_EQ(d.no_model, 1u);
    EXPECT_EQ(d.allowed, 0u);
    EXPECT_EQ(ctx.reply.status, 403);
    EXPECT_EQ(ctx.reply.message, "this route requires a model, and none was given");
    ASSERT_EQ(ctx.alerts.size(), 1u);
    EXPECT_EQ(ctx.alerts[0].type, "model.denied");
  }
}

TEST_F(ModelAccess, EmptyModelWithDenyOnlyRuleIsAllowed) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, deny: ["o1*"]}
)");
  StreamContext ctx = make_ctx(make_identity("acme"), "");
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kContinue);
}

TEST_F(ModelAccess, PassthroughWithoutModelIsAllowed) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o*"]}
)");
  auto before = Counters::now();
  StreamContext ctx = make_ctx(make_identity("acme"), "", Provider::kOpenAI, ApiKind::kPassthrough);
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kContinue);
  auto d = Counters::now() - before;
  EXPECT_EQ(d.checked, 1u);
  EXPECT_EQ(d.allowed, 1u);
  EXPECT_EQ(d.denied, 0u);
  EXPECT_EQ(d.no_model, 0u);
}

TEST_F(ModelAccess, PassthroughWithADeniedModelIsDenied) {
  // A pass-through call that does name a model is still checked.
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o*"]}
)");
  StreamContext ctx =
      make_ctx(make_identity("acme"), "o1-pro", Provider::kOpenAI, ApiKind::kPassthrough);
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kRespond);
}

TEST_F(ModelAccess, OpenAIReplyShape) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, deny: ["o1*"]}
)");
  StreamContext ctx = make_ctx(make_identity("acme"), "o1-pro", Provider::kOpenAI);
  ASSERT_EQ(run(cfg, ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.status, 403);
  EXPECT_EQ(ctx.reply.type, "invalid_request_error");
  EXPECT_EQ(ctx.reply.code, "model_not_allowed");
  EXPECT_EQ(ctx.reply.error_class, "filter_rejected");
  EXPECT_EQ(ctx.reply.message, "model 'o1-pro' is not allowed for this caller");
  EXPECT_TRUE(ctx.reply.headers.empty());
}

TEST_F(ModelAccess, OpenAICompatibleUsesTheOpenAIShape) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, deny: ["*"]}
)");
  StreamContext ctx = make_ctx(make_identity("acme"), "llama", Provider::kOpenAICompatible);
  ASSERT_EQ(run(cfg, ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.type, "invalid_request_error");
  EXPECT_EQ(ctx.reply.code, "model_not_allowed");
}

TEST_F(ModelAccess, AnthropicReplyShape) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["claude-sonnet-*"]}
)");
  StreamContext ctx =
      make_ctx(make_identity("acme"), "claude-opus-4", Provider::kAnthropic, ApiKind::kMessages);
  ASSERT_EQ(run(cfg, ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.status, 403);
  EXPECT_EQ(ctx.reply.type, "permission_error");
  EXPECT_EQ(ctx.reply.error_class, "filter_rejected");
  EXPECT_NE(ctx.reply.message.find("claude-opus-4"), std::string::npos);
}

TEST_F(ModelAccess, DeniedCallRaisesAnAlert) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, deny: ["secret-model-*"]}
)");
  StreamContext ctx = make_ctx(make_identity("acme"), "secret-model-x");
  ASSERT_EQ(run(cfg, ctx), FilterStatus::kRespond);
  ASSERT_EQ(ctx.alerts.size(), 1u);
  const AlertEvent& a = ctx.alerts[0];
  EXPECT_EQ(a.type, "model.denied");
  EXPECT_EQ(a.severity, "warning");
  EXPECT_EQ(a.source, "model_access");
  EXPECT_FALSE(a.message.empty());
  // AlertEvent::message must never contain the offending value.
  EXPECT_EQ(a.message.find("secret-model-x"), std::string::npos) << a.message;
  EXPECT_EQ(a.details_json, "{}");
}

TEST_F(ModelAccess, StatsCountEachDecision) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o*"], deny: ["*-preview"]}
)");
  const Identity id = make_identity("acme");
  auto before = Counters::now();
  EXPECT_TRUE(allowed(cfg, id, "gpt-4o"));
  EXPECT_TRUE(allowed(cfg, id, "gpt-4o-mini"));
  EXPECT_FALSE(allowed(cfg, id, "gpt-4o-preview"));
  EXPECT_FALSE(allowed(cfg, id, "o1"));
  EXPECT_TRUE(allowed(cfg, make_identity("other"), "o1"));
  auto d = Counters::now() - before;
  EXPECT_EQ(d.checked, 5u);
  EXPECT_EQ(d.allowed, 3u);
  EXPECT_EQ(d.denied, 2u);
  EXPECT_EQ(d.no_model, 0u);
  // Index and name access agree.
  auto* s = model_access::stats();
  EXPECT_EQ(s->get(model_access::kChecked), s->get("checked"));
  EXPECT_EQ(s->get(model_access::kDenied), s->get("denied"));
}

TEST_F(ModelAccess, AllowedCallLeavesTheContextAlone) {
  auto cfg = parse_rules(R"(rules:
  - {tenant: acme, allow: ["gpt-4o"]}
)");
  StreamContext ctx = make_ctx(make_identity("acme"), "gpt-4o");
  ctx.body = R"({"model":"gpt-4o"})";
  EXPECT_EQ(run(cfg, ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.reply.status, 0);
  EXPECT_TRUE(ctx.alerts.empty());
  EXPECT_TRUE(ctx.event_fields.empty());
  EXPECT_FALSE(ctx.body_rewritten);
  EXPECT_EQ(ctx.body, R"({"model":"gpt-4o"})");
}

TEST_F(ModelAccess, CreatedThroughTheRegistry) {
  const FilterFactory* f = find_filter("model_access");
  ASSERT_NE(f, nullptr);
  ConfigErrors errors("test.yaml");
  auto cfg = f->parse(ConfigNode(YAML::Load("rules: [{tenant: acme, deny: [\"o1*\"]}]"),
                                 "filters.model_access", &errors));
  ASSERT_TRUE(errors.empty());
  ASSERT_NE(cfg, nullptr);
  std::unique_ptr<Filter> filter = f->create(cfg);
  ASSERT_NE(filter, nullptr);
  StreamContext ctx = make_ctx(make_identity("acme"), "o1");
  EXPECT_EQ(filter->on_request(ctx), FilterStatus::kRespond);
  EXPECT_EQ(f->stats(), model_access::stats());
  EXPECT_FALSE(filter->wants_response_body());
  EXPECT_FALSE(filter->wants_response_events());
}

// ---------------------------------------------------------------------------------------------
// parse_config

TEST(ModelAccessParse, FullRule) {
  ConfigErrors errors("test.yaml");
  auto cfg = std::static_pointer_cast<const model_access::Config>(
      model_access::parse_config(ConfigNode(YAML::Load(R"(rules:
  - tenant: acme
    team: search
    app: bot
    allow: [gpt-4o, "claude-*"]
    deny: ["*-preview"]
  - tenant: globex
)"),
                                            "filters.model_access", &errors)));
  ASSERT_TRUE(errors.empty()) << errors.all()[0];
  ASSERT_EQ(cfg->rules.size(), 2u);
  EXPECT_EQ(cfg->rules[0].tenant, "acme");
  EXPECT_EQ(cfg->rules[0].team, "search");
  EXPECT_EQ(cfg->rules[0].app, "bot");
  EXPECT_EQ(cfg->rules[0].allow, (std::vector<std::string>{"gpt-4o", "claude-*"}));
  EXPECT_EQ(cfg->rules[0].deny, std::vector<std::string>{"*-preview"});
  EXPECT_EQ(cfg->rules[1].tenant, "globex");
  EXPECT_FALSE(cfg->rules[1].team.has_value());
  EXPECT_FALSE(cfg->rules[1].app.has_value());
  EXPECT_TRUE(cfg->rules[1].allow.empty());
  EXPECT_TRUE(cfg->rules[1].deny.empty());
}

TEST(ModelAccessParse, UndefinedSectionGivesNoRules) {
  ConfigErrors errors("test.yaml");
  auto cfg = std::static_pointer_cast<const model_access::Config>(model_access::parse_config(
      ConfigNode(YAML::Node(YAML::NodeType::Undefined), "filters.model_access", &errors)));
  EXPECT_TRUE(errors.empty());
  ASSERT_NE(cfg, nullptr);
  EXPECT_TRUE(cfg->rules.empty());
}

TEST(ModelAccessParse, UnknownKeyInRule) {
  ConfigErrors errors("test.yaml");
  model_access::parse_config(ConfigNode(YAML::Load(R"(rules:
  - tenant: acme
    models: [gpt-4o]
)"),
                                        "filters.model_access", &errors));
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0], "test.yaml:3:5: filters.model_access.rules[0].models: unknown key");
}

TEST(ModelAccessParse, UnknownKeyInSection) {
  ConfigErrors errors("test.yaml");
  model_access::parse_config(
      ConfigNode(YAML::Load("rules: []\ndefault: deny\n"), "filters.model_access", &errors));
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0], "test.yaml:2:1: filters.model_access.default: unknown key");
}

TEST(ModelAccessParse, RulesMustBeAList) {
  ConfigErrors errors("test.yaml");
  model_access::parse_config(
      ConfigNode(YAML::Load("rules:\n  tenant: acme\n"), "filters.model_access", &errors));
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_NE(errors.all()[0].find("filters.model_access.rules: expected a list"), std::string::npos)
      << errors.all()[0];
}

TEST(ModelAccessParse, AllowMustBeAList) {
  ConfigErrors errors("test.yaml");
  model_access::parse_config(ConfigNode(YAML::Load("rules:\n  - tenant: acme\n    allow: gpt-4o\n"),
                                        "filters.model_access", &errors));
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0],
            "test.yaml:3:12: filters.model_access.rules[0].allow: expected a list");
}

TEST(ModelAccessParse, SectionMustBeAMapping) {
  ConfigErrors errors("test.yaml");
  model_access::parse_config(ConfigNode(YAML::Load("[a, b]"), "filters.model_access", &errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.all()[0].find("filters.model_access: expected a mapping"), std::string::npos)
      << errors.all()[0];
}

}  // namespace
}  // namespace sluice
