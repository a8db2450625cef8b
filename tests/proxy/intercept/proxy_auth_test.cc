// Proxy-Authorization: Basic credentials against intercept.proxy_users.
#include "proxy/intercept/proxy_auth.h"

#include <gtest/gtest.h>

namespace sluice::intercept {
namespace {

std::vector<ProxyUser> users() {
  ProxyUser a;
  a.user = "checkout";
  a.password = "s3cret-password";
  a.identity.tenant = "shop";
  a.identity.app = "checkout";
  return {a};
}

TEST(Base64, DecodesWithPadding) {
  std::string out;
  ASSERT_TRUE(base64_decode("YQ==", out));
  EXPECT_EQ(out, "a");
  ASSERT_TRUE(base64_decode("YWI=", out));
  EXPECT_EQ(out, "ab");
  ASSERT_TRUE(base64_decode("YWJj", out));
  EXPECT_EQ(out, "abc");
  ASSERT_TRUE(base64_decode("", out));
  EXPECT_EQ(out, "");
  for (const char* bad : {"YQ", "Y===", "=YQ=", "YQ=a", "Y!==", "YWJj\n"})
    EXPECT_FALSE(base64_decode(bad, out)) << bad;
}

TEST(ProxyAuth, ValidCredentialsNameTheUser) {
  auto u = users();
  // base64("checkout:s3cret-password")
  auto o = check_proxy_auth("Basic Y2hlY2tvdXQ6czNjcmV0LXBhc3N3b3Jk", u);
  ASSERT_EQ(o.result, ProxyAuthResult::kOk);
  EXPECT_EQ(o.user->identity.tenant, "shop");
  EXPECT_EQ(check_proxy_auth("basic  Y2hlY2tvdXQ6czNjcmV0LXBhc3N3b3Jk ", u).result,
            ProxyAuthResult::kOk);
}

TEST(ProxyAuth, MissingWrongAndMalformed) {
  auto u = users();
  EXPECT_EQ(check_proxy_auth("", u).result, ProxyAuthResult::kNone);
  // base64("checkout:wrong-password1")
  EXPECT_EQ(check_proxy_auth("Basic Y2hlY2tvdXQ6d3JvbmctcGFzc3dvcmQx", u).result,
            ProxyAuthResult::kRefused);
  // base64("nobody:s3cret-password")
  EXPECT_EQ(check_proxy_auth("Basic bm9ib2R5OnMzY3JldC1wYXNzd29yZA==", u).result,
            ProxyAuthResult::kRefused);
  // base64("checkout:s3cret-passwor"): a prefix of the password is not the password.
  EXPECT_EQ(check_proxy_auth("Basic Y2hlY2tvdXQ6czNjcmV0LXBhc3N3b3I=", u).result,
            ProxyAuthResult::kRefused);
  for (const char* bad : {"Bearer abc", "Basic", "Basic ", "Basic !!!!", "Basicx Y2hlY2tvdXQ6",
                          "Basic Y2hlY2tvdXQ=" /* no colon */})
    EXPECT_EQ(check_proxy_auth(bad, u).result, ProxyAuthResult::kMalformed) << bad;
}

}  // namespace
}  // namespace sluice::intercept
