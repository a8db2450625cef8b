#include "proxy/intercept/destination.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstdlib>
#include <cstring>

namespace sluice::intercept {

bool parse_authority(std::string_view target, std::string& host, std::uint16_t& port) {
  std::string_view h, p;
  if (!target.empty() && target.front() == '[') {
    auto close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':')
      return false;
    h = target.substr(1, close - 1);
    p = target.substr(close + 2);
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string_view::npos || target.find(':') != colon) return false;
    h = target.substr(0, colon);
    p = target.substr(colon + 1);
  }
  if (h.empty() || h.size() > 253 || p.empty() || p.size() > 5) return false;
  for (char c : h) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) return false;
  }
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  host.assign(h);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  port = static_cast<std::uint16_t>(v);
  return true;
}

namespace {
// Parses an address into 16 bytes (IPv4 as ::ffff:a.b.c.d); false when not an address.
bool to_bytes(const std::string& a, unsigned char out[16], bool& v4) {
  unsigned char b4[4];
  if (::inet_pton(AF_INET, a.c_str(), b4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, b4, 4);
    v4 = true;
    return true;
  }
  v4 = false;
  return ::inet_pton(AF_INET6, a.c_str(), out) == 1;
}

bool prefix_match(const unsigned char* a, const unsigned char* b, int bits) {
  for (int i = 0; i < bits / 8; ++i)
    if (a[i] != b[i]) return false;
  if (bits % 8 == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits % 8));
  return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}
}  // namespace

bool in_cidr(const std::string& address, const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  unsigned char a[16], n[16];
  bool av4 = false, nv4 = false;
  if (!to_bytes(address, a, av4) || !to_bytes(cidr.substr(0, slash), n, nv4)) return false;
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (nv4) bits += 96;  // IPv4 blocks match IPv4 (and IPv4-mapped) addresses
  if (bits < 0 || bits > 128) return false;
  return prefix_match(a, n, bits);
}

bool is_special_address(const std::string& address) {
  static const char* kBlocks[] = {
      "0.0.0.0/8",     "10.0.0.0/8",   "100.64.0.0/10",  "127.0.0.0/8",   "169.254.0.0/16",
      "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
      "240.0.0.0/4",   "::/128",       "::1/128",        "fc00::/7",      "fe80::/10",
      "ff00::/8",      "64:ff9b::/96"};
  for (const char* b : kBlocks)
    if (in_cidr(address, b)) return true;
  return false;
}

const std::vector<std::string>& default_ai_hosts() {
  static const std::vector<std::string> hosts = {"api.openai.com",
                                                 "api.anthropic.com",
                                                 "generativelanguage.googleapis.com",
                                                 "api.mistral.ai",
                                                 "api.cohere.com",
                                                 "api.cohere.ai",
                                                 "api.groq.com",
                                                 "api.together.xyz",
                                                 "api.deepseek.com",
                                                 "api.perplexity.ai",
                                                 "api.fireworks.ai",
                                                 "openrouter.ai",
                                                 "api.x.ai",
                                                 "bedrock-runtime.amazonaws.com",
                                                 "api-inference.huggingface.co"};
  return hosts;
}

bool ai_host_matches(const std::string& host, const std::string& pattern) {
  if (host == pattern) return true;
  // "bedrock-runtime.amazonaws.com" also matches "bedrock-runtime.us-east-1.amazonaws.com".
  auto dot = pattern.find('.');
  if (dot == std::string::npos) return false;
  std::string_view first(pattern.data(), dot), rest(pattern.data() + dot);
  return host.size() > pattern.size() && host.starts_with(std::string(first) + ".") &&
         host.ends_with(rest);
}

}  // namespace sluice::intercept
