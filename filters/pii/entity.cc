#include "filters/pii/entity.h"

#include <array>

namespace sluice::pii {
namespace {

// Personal data and credentials are redacted by default; the keyword-and-entropy heuristic
// for unknown secrets is too loose to rewrite text on its own, so it only alerts.
constexpr std::array<EntityInfo, kBuiltinEntities> kInfo = {{
    {"email", "EMAIL", false, Action::kRedact},
    {"phone", "PHONE", false, Action::kRedact},
    {"credit_card", "CREDIT_CARD", false, Action::kRedact},
    {"iban", "IBAN", false, Action::kRedact},
    {"us_ssn", "US_SSN", false, Action::kRedact},
    {"ipv4", "IP_ADDRESS", false, Action::kRedact},
    {"ipv6", "IP_ADDRESS", false, Action::kRedact},
    {"openai_key", "OPENAI_KEY", true, Action::kRedact},
    {"anthropic_key", "ANTHROPIC_KEY", true, Action::kRedact},
    {"aws_access_key", "AWS_ACCESS_KEY", true, Action::kRedact},
    {"aws_secret_key", "AWS_SECRET_KEY", true, Action::kRedact},
    {"github_token", "GITHUB_TOKEN", true, Action::kRedact},
    {"gitlab_token", "GITLAB_TOKEN", true, Action::kRedact},
    {"slack_token", "SLACK_TOKEN", true, Action::kRedact},
    {"stripe_key", "STRIPE_KEY", true, Action::kRedact},
    {"google_api_key", "GOOGLE_API_KEY", true, Action::kRedact},
    {"huggingface_token", "HUGGINGFACE_TOKEN", true, Action::kRedact},
    {"npm_token", "NPM_TOKEN", true, Action::kRedact},
    {"private_key", "PRIVATE_KEY", true, Action::kRedact},
    {"jwt", "JWT", true, Action::kRedact},
    {"generic_secret", "SECRET", true, Action::kAlert},
}};

}  // namespace

const char* to_string(Action a) {
  switch (a) {
    case Action::kOff: return "off";
    case Action::kAlert: return "alert";
    case Action::kRedact: return "redact";
    case Action::kBlock: return "block";
  }
  return "off";
}

const char* to_string(Direction d) { return d == Direction::kRequest ? "request" : "response"; }

const EntityInfo& info(Entity e) { return kInfo[static_cast<std::size_t>(e)]; }

std::optional<Entity> entity_by_name(std::string_view name) {
  for (std::size_t i = 0; i < kInfo.size(); ++i)
    if (kInfo[i].name == name) return static_cast<Entity>(i);
  return std::nullopt;
}

}  // namespace sluice::pii
