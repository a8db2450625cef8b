// The entity types the pii filter knows, the actions it can take on each, and their names in
// config, events and placeholders. Custom patterns get ids after the built-in ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::pii {

enum class Entity : std::uint8_t {
  kEmail,
  kPhone,
  kCreditCard,
  kIban,
  kUsSsn,
  kIpv4,
  kIpv6,
  kOpenAiKey,
  kAnthropicKey,
  kAwsAccessKey,
  kAwsSecretKey,
  kGithubToken,
  kGitlabToken,
  kSlackToken,
  kStripeKey,
  kGoogleApiKey,
  kHuggingfaceToken,
  kNpmToken,
  kPrivateKey,
  kJwt,
  kGenericSecret,
  kCount  // number of built-in types; custom patterns use ids from here on
};
inline constexpr std::size_t kBuiltinEntities = static_cast<std::size_t>(Entity::kCount);

// What happens to a validated finding. kOff: the type is not looked for at all.
enum class Action : std::uint8_t { kOff, kAlert, kRedact, kBlock };
enum class Direction : std::uint8_t { kRequest, kResponse };

const char* to_string(Action a);
const char* to_string(Direction d);

struct EntityInfo {
  std::string_view name;   // config and event name: "email", "credit_card", ...
  std::string_view label;  // placeholder label: "EMAIL" -> "[EMAIL_1]"
  bool secret;             // credentials (vs personal data)
  Action default_action;   // both directions
};

const EntityInfo& info(Entity e);
std::optional<Entity> entity_by_name(std::string_view name);

}  // namespace sluice::pii
