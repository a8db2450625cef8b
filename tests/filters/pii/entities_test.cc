// Per-entity detection through the whole engine (patterns + validators + selection): each type
// with positives written from its documented format, and hard negatives that look like it.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "filters/pii/validators.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

using testing::default_config;
using testing::redact_whole;

// (type name, value) of every finding in `text`.
std::vector<std::pair<std::string, std::string>> found(const std::string& text) {
  auto c = default_config();
  auto r = redact_whole(*c, text);
  EXPECT_EQ(r.result, TextRedactor::Result::kOk);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : r.findings)
    out.emplace_back(c->catalog.names[f.entity], text.substr(f.begin, f.end - f.begin));
  return out;
}

void expect_one(const std::string& type, const std::string& value, const std::string& before = "My value is ",
                const std::string& after = " and that is all.") {
  auto f = found(before + value + after);
  ASSERT_EQ(f.size(), 1u) << type << ": " << value;
  EXPECT_EQ(f[0].first, type) << value;
  EXPECT_EQ(f[0].second, value);
}

void expect_none(const std::string& text) {
  auto f = found(text);
  for (const auto& [t, v] : f) ADD_FAILURE() << "unexpected " << t << " '" << v << "' in: " << text;
}

// --- building blocks ---------------------------------------------------------------------

TEST(PiiValidators, Luhn) {
  EXPECT_TRUE(luhn_ok("4111111111111111"));
  EXPECT_TRUE(luhn_ok("79927398713"));
  EXPECT_FALSE(luhn_ok("4111111111111112"));
  EXPECT_FALSE(luhn_ok(""));
}

TEST(PiiValidators, CardIin) {
  EXPECT_TRUE(card_iin_ok("4111111111111111"));
  EXPECT_TRUE(card_iin_ok("2221000000000009"));   // Mastercard 2-series
  EXPECT_TRUE(card_iin_ok("378282246310005"));    // Amex, 15
  EXPECT_FALSE(card_iin_ok("378282246310005000"));  // Amex is 15 digits
  EXPECT_FALSE(card_iin_ok("7111111111111111"));  // 7: petroleum, not a card network here
  EXPECT_FALSE(card_iin_ok("41111111111"));       // too short
}

TEST(PiiValidators, IbanChecksumAndLength) {
  EXPECT_EQ(iban_length_for("GB"), 22);
  EXPECT_EQ(iban_length_for("DE"), 22);
  EXPECT_EQ(iban_length_for("NO"), 15);
  EXPECT_EQ(iban_length_for("US"), 0);
  EXPECT_TRUE(iban_mod97_ok("GB82WEST12345698765432"));
  EXPECT_FALSE(iban_mod97_ok("GB82WEST12345698765433"));
  EXPECT_TRUE(iban_mod97_ok("DE89370400440532013000"));
}

TEST(PiiValidators, SsnRules) {
  EXPECT_TRUE(ssn_ok("536", "90", "4399"));
  EXPECT_FALSE(ssn_ok("000", "12", "3456"));
  EXPECT_FALSE(ssn_ok("666", "12", "3456"));
  EXPECT_FALSE(ssn_ok("912", "12", "3456"));
  EXPECT_FALSE(ssn_ok("536", "00", "4399"));
  EXPECT_FALSE(ssn_ok("536", "90", "0000"));
  EXPECT_FALSE(ssn_ok("078", "05", "1120"));  // Woolworth wallet sample
  EXPECT_FALSE(ssn_ok("219", "09", "9999"));  // SSA pamphlet sample
}

TEST(PiiValidators, Ip) {
  EXPECT_TRUE(ipv4_ok("192.168.1.20"));
  EXPECT_FALSE(ipv4_ok("256.1.1.1"));
  EXPECT_FALSE(ipv4_ok("01.2.3.4"));
  EXPECT_FALSE(ipv4_ok("1.2.3"));
  EXPECT_TRUE(ipv6_ok("2001:db8::8a2e:370:7334"));
  EXPECT_TRUE(ipv6_ok("fe80::1"));
  EXPECT_FALSE(ipv6_ok("12:30:45"));
  EXPECT_FALSE(ipv6_ok("a::b"));
}

TEST(PiiValidators, JwtHeader) {
  EXPECT_TRUE(jwt_header_ok("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
  EXPECT_FALSE(jwt_header_ok("eyJub3RqdXN0"));      // {"notjust — no closing brace
  EXPECT_FALSE(jwt_header_ok("eyJ!!"));
  std::string out;
  EXPECT_TRUE(base64url_decode("aGVsbG8", out));
  EXPECT_EQ(out, "hello");
}

// --- personal data -------------------------------------------------------------------------

TEST(PiiEntities, Email) {
  expect_one("email", "jane.doe@example.com");
  expect_one("email", "first+tag@mail.example.co.uk");
  expect_one("email", "UtaKortig@jourrapide.com", "(", ")");
  expect_one("email", "a.b@c.io", "", ".");
  expect_none("user@localhost is not routable, nor is @handle or foo@bar");
  expect_none("the decorator @app.route is code");
}

TEST(PiiEntities, Phone) {
  expect_one("phone", "+1 415 555 2671");
  expect_one("phone", "(415) 555-2671");
  expect_one("phone", "415-555-2671");
  expect_one("phone", "415.555.2671");
  expect_one("phone", "+44 20 7946 0958");
  expect_one("phone", "07700 900 123");
  expect_one("phone", "+33 1 42 68 53 00");
  expect_one("phone", "+4915123456789");
  expect_one("phone", "030 1234567", "Call ", ".");
}

// The extension pattern is anchored on "x"/"ext" and grows back over the number's shape.
TEST(PiiEntities, PhoneWithExtension) {
  expect_one("phone", "(415) 555-2671 x0135", "Call ", ".");
  expect_one("phone", "415-555-2671 ext. 12", "Call ", " today");
  expect_one("phone", "+1 415.555.2671x7", "", "");
  expect_one("phone", "+1(415) 555-2671 ext 99", "desk ", ",");
  expect_none("Resize to 1920x1080 or 3 x 4 tiles.");
  expect_none("Part A415-555-2671x12 is a catalogue number.");
  expect_none("The hex 0x1f and 555-2671 x 3 are not phones.");
}

TEST(PiiEntities, PhoneHardNegatives) {
  expect_none("Released on 2024-01-15 at 10:30:00.");
  expect_none("Due 15.01.2024, paid 01.15.2024.");
  expect_none("Upgrade to version 10.0.19041.1 or v1.2.3 today.");
  expect_none("Order 1234567890123 shipped; invoice 20240115.");
  expect_none("Request id 123e4567-e89b-12d3-a456-426614174000 failed.");
  expect_none("It costs 1,299.99 or 3.14 units.");
  expect_none("Timestamp 1700000000 and 1700000000123.");
  expect_none("ISBN 978-3-16-148410-0 is a book.");
}

TEST(PiiEntities, CreditCard) {
  expect_one("credit_card", "4111 1111 1111 1111");
  expect_one("credit_card", "4111-1111-1111-1111");
  expect_one("credit_card", "4111111111111111");
  expect_one("credit_card", "5555555555554444");           // Mastercard
  expect_one("credit_card", "2223003122003222");           // Mastercard 2-series
  expect_one("credit_card", "378282246310005");            // Amex
  expect_one("credit_card", "3782 822463 10005");          // Amex grouping
  expect_one("credit_card", "6011111111111117");           // Discover
  expect_one("credit_card", "3530111333300000");           // JCB
  expect_one("credit_card", "30569309025904");             // Diners 14
  expect_one("credit_card", "6304000000000000");           // Maestro
  expect_one("credit_card", "4131034282458809939");        // Visa 19
}

TEST(PiiEntities, CreditCardHardNegatives) {
  expect_none("Card 4111 1111 1111 1112 fails Luhn.");
  expect_none("Tracking 1Z999AA10123456784 and order 100234567890.");
  expect_none("Account 7111111111111111 is not a card.");
  expect_none("ab4111111111111111 is glued to letters.");
}

TEST(PiiEntities, Iban) {
  expect_one("iban", "GB82WEST12345698765432");
  expect_one("iban", "GB82 WEST 1234 5698 7654 32");
  expect_one("iban", "DE89 3704 0044 0532 0130 00");
  expect_one("iban", "gb42nawi04454264788619");  // lower case, as people type it
  expect_one("iban", "FR1420041010050500013M02606");
  expect_none("GB82WEST12345698765433 has a bad checksum.");
  expect_none("GB82WEST1234569876543 is one short.");
  expect_none("XX82WEST12345698765432 is no country.");
}

TEST(PiiEntities, UsSsn) {
  expect_one("us_ssn", "536-90-4399");
  expect_one("us_ssn", "536 90 4399");
  expect_none("SSN 000-12-3456, 666-12-3456, 912-34-5678, 536-00-4399, 536-90-0000.");
  expect_none("The sample 078-05-1120 was printed in wallets.");
}

TEST(PiiEntities, IpAddresses) {
  expect_one("ipv4", "192.168.10.200");
  expect_one("ipv4", "8.8.8.8", "DNS ", ".");
  expect_one("ipv6", "2001:db8:85a3::8a2e:370:7334");
  expect_one("ipv6", "fe80::1ff:fe23:4567:890a");
  expect_none("Version 1.2.3.456 and 300.1.2.3 are not addresses.");
  expect_none("Use std::string and meet at 12:30:45.");
}

// --- credentials -----------------------------------------------------------------------------

TEST(PiiEntities, OpenAiKey) {
  // Legacy format: "sk-" + 20 + "T3BlbkFJ" (base64 "OpenAI") + 20.
  expect_one("openai_key", "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", "key=", " end");
  expect_one("openai_key",
             "sk-proj-Zq8xT2mV7nK4pW9rL3sD6fH1jG5bN8cY0aE2uI4oR7tQ9wX3zC6vB1mS5kP8lJ2hF4gD7",
             "OPENAI_API_KEY=", "\n");
  expect_none("run with sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx as a placeholder");
  expect_none("the task-management-system-for-everyone-everywhere project");
  // Found by the marker, grown back to the leftmost "sk-" within reach.
  expect_one("openai_key", "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", "(", ")");
  expect_none("marker alone T3BlbkFJr5St7uV9wX1yZ3aB5cD7 is not a key");
  expect_none("too short sk-Ab3dE5fT3BlbkFJr5St7uV9wX1yZ3aB5cD7 is not a key");
  expect_none("too far sk-" + std::string(101, 'q') + "T3BlbkFJr5St7uV9wX1yZ3aB5cD7 end");
}

TEST(PiiEntities, AnthropicKey) {
  std::string key = "sk-ant-api03-" + std::string("R2d8Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae1Io7Ud3Qr9Ek6") +
                    "Tw4Zx2Cv5Bn8Mm1Ll0Kk9Jj8Hh7Gg6Ff5Dd4Ss3Aa2Qq1Ww0Ee9Rr8Tt7Yy6Uu5Ii4Oo3Pp2AA";
  auto f = found("ANTHROPIC_API_KEY=" + key + "\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "anthropic_key");
  EXPECT_EQ(f[0].second, key);
}

TEST(PiiEntities, Aws) {
  expect_one("aws_access_key", "AKIAIOSFODNN7EXAMPLE");  // AWS documentation's example id
  auto f = found("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].first, "aws_secret_key");
  EXPECT_EQ(f[0].second, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  expect_none("AKIAXXXXXXXXXXXXXXXX is a placeholder; so is AKIA1234.");
  expect_none("a 40-char base64 blob wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY without a key word");
}

TEST(PiiEntities, GithubGitlabSlackStripeGoogleHfNpm) {
  expect_one("github_token", "ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae");
  expect_one("github_token", "gho_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae");
  expect_one("github_token",
             "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");
  expect_one("gitlab_token", "glpat-xK3m9Qz7bR2nT5vW8yLp");
  expect_one("slack_token", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
  expect_one("slack_token", "hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
             "POST https://", " now");
  expect_one("stripe_key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc");
  expect_one("stripe_key", "rk_live_51H8kQ2Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8");
  expect_one("google_api_key", "AIzaSyB3k9Xq7Lm2Vn8Pz4Tw6Rc1Hs5Jd0Gf2Ku");
  expect_one("huggingface_token", "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");
  expect_one("npm_token", "npm_Qz7bR2nT5vW8yLpK3m9xA1cE4gH6jM0sU2wY");
  expect_none("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx and sk_test_xxxxxxxxxxxx are placeholders");
  // A classic token is exactly 36 letters or digits after its prefix, then a word boundary.
  expect_none("ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Aex is one too long");
  expect_none("ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8A is one too short");
  expect_none("ghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae_x runs on");
  expect_none("xghp_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae starts inside a word");
  expect_one("github_token", "ghs_R8d2Kq7Xv1Lm9Pz3Tn6Wb4Yc0Hs5Jf2Gu8Ae", "token=", ";");
  expect_none("the glpat- prefix and xoxb- prefix are documented");
}

TEST(PiiEntities, PrivateKeyAndJwtAreSuppressedToTheirEnd) {
  auto c = default_config();
  std::string pem =
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2ZlK\nQ29yrT\n"
      "-----END RSA PRIVATE KEY-----";
  auto r = redact_whole(*c, "key:\n" + pem + "\nthanks");
  EXPECT_EQ(r.out, "key:\n[PRIVATE_KEY_1]\nthanks");
  std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
      "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  r = redact_whole(*c, "Bearer " + jwt + " expires soon");
  EXPECT_EQ(r.out, "Bearer [JWT_1] expires soon");
  // An eyJ... token whose header is not JSON is not a JWT.
  r = redact_whole(*c, "id eyJub3RqdXN0.eyJzdWIiOjF9.abc here");
  EXPECT_EQ(r.out, "id eyJub3RqdXN0.eyJzdWIiOjF9.abc here");
}

TEST(PiiEntities, GenericSecretIsAlertOnlyByDefault) {
  auto c = default_config();
  auto r = redact_whole(*c, "config: api_key=Zx8Cv1Bn4Mq7We0Rt3Yu6Io9 done");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(c->catalog.names[r.findings[0].entity], "generic_secret");
  EXPECT_EQ(r.findings[0].action, Action::kAlert);
  EXPECT_EQ(r.out, "config: api_key=Zx8Cv1Bn4Mq7We0Rt3Yu6Io9 done");
  expect_none("password: correcthorsebattery and token=aaaaaaaaaaaaaaaaaaaa");
}

// --- placeholders, mask, allow-lists, custom patterns --------------------------------------

TEST(PiiRedaction, PlaceholdersAreNumberedPerValue) {
  auto c = default_config();
  auto r = redact_whole(*c, "a@x.io b@x.io a@x.io 192.168.1.1 2001:db8::1:2");
  EXPECT_EQ(r.out, "[EMAIL_1] [EMAIL_2] [EMAIL_1] [IP_ADDRESS_1] [IP_ADDRESS_2]");
}

TEST(PiiRedaction, MaskAllowListAndCustomPattern) {
  auto c = testing::make_config(R"(
redaction: mask
mask: "***"
allow:
  values: ["4242 4242 4242 4242"]
  email_domains: [corp.example]
custom:
  - {name: employee_id, pattern: 'EMP-[0-9]{6}', max_length: 10}
entities:
  phone: off
)");
  auto r = redact_whole(*c,
                        "4242424242424242, 4111111111111111, me@corp.example me@dev.corp.example "
                        "x@other.example EMP-123456 +1 415 555 2671");
  EXPECT_EQ(r.out,
            "4242424242424242, ***, me@corp.example me@dev.corp.example *** *** +1 415 555 2671");
}

TEST(PiiConfig, Errors) {
  std::vector<std::string> errors;
  testing::make_config("entities: {emial: redact}", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("unknown entity type 'emial'"), std::string::npos);
  testing::make_config("entities: {email: {request: shred}}", &errors);
  EXPECT_EQ(errors.size(), 1u);
  testing::make_config("hold_back_bytes: 100", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("must be at least"), std::string::npos);
  testing::make_config("custom: [{name: bad, pattern: '(unclosed'}]", &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("(unclosed"), std::string::npos);
  testing::make_config("custom: [{name: email, pattern: 'x'}]", &errors);
  EXPECT_EQ(errors.size(), 1u);
  testing::make_config("colour: blue", &errors);
  EXPECT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace sluice::pii
