#include "proxy/intercept/proxy_auth.h"

#include <openssl/crypto.h>

#include <cctype>

namespace sluice::intercept {

bool base64_decode(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  if (in.size() % 4 != 0) return false;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    for (std::size_t j = i; j < i + 4; ++j) {
      int d = j >= in.size() - pad ? 0 : value(in[j]);
      if (d < 0) return false;
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
  }
  out.resize(out.size() - pad);
  return true;
}

ProxyAuthOutcome check_proxy_auth(std::string_view header, const std::vector<ProxyUser>& users) {
  ProxyAuthOutcome o;
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  if (header.empty()) return o;
  o.result = ProxyAuthResult::kMalformed;
  if (header.size() < 6) return o;
  for (std::size_t i = 0; i < 5; ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != "basic"[i]) return o;
  if (header[5] != ' ') return o;
  std::string_view b64 = header.substr(6);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  std::string decoded;
  if (b64.empty() || !base64_decode(b64, decoded)) return o;
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return o;
  std::string_view user(decoded.data(), colon);
  std::string_view password(decoded.data() + colon + 1, decoded.size() - colon - 1);
  o.result = ProxyAuthResult::kRefused;
  for (const ProxyUser& u : users) {
    if (u.user != user) continue;
    // Constant time over the password, so that its bytes cannot be found one at a time.
    if (u.password.size() == password.size() &&
        CRYPTO_memcmp(u.password.data(), password.data(), password.size()) == 0) {
      o.result = ProxyAuthResult::kOk;
      o.user = &u;
    }
    break;
  }
  OPENSSL_cleanse(decoded.data(), decoded.size());
  return o;
}

}  // namespace sluice::intercept
