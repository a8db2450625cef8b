// Proxy-Authorization (RFC 9110 §11.7.1, Basic scheme RFC 7617) on CONNECT: who the proxy
// client is, mapped to a Sluice identity (intercept.proxy_users).
//
// Contract
//  * check_proxy_auth() reads the header value. kNone: no header. kMalformed: not
//    "Basic <base64 of user:password>". kRefused: unknown user or wrong password (compared in
//    constant time). kOk: `user` is the matching entry of `users`.
//  * Passwords are never logged or copied out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace sluice::intercept {

enum class ProxyAuthResult { kNone, kMalformed, kRefused, kOk };

struct ProxyAuthOutcome {
  ProxyAuthResult result = ProxyAuthResult::kNone;
  const ProxyUser* user = nullptr;
};

ProxyAuthOutcome check_proxy_auth(std::string_view header, const std::vector<ProxyUser>& users);

// Base64 (RFC 4648 §4, padding required); false on any other character or bad length.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace sluice::intercept
