// Where a proxied connection may go: CONNECT targets, address ranges a tunnel must not reach,
// and the AI API hosts that raise shadow-AI alerts. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::intercept {

// "host:port" (RFC 9110 authority-form; IPv6 in brackets) → host (lower-cased, brackets
// removed) and port; false when malformed, when the host has characters outside
// [A-Za-z0-9.-_:] or more than 253 of them, or when the port is 0 or above 65535.
bool parse_authority(std::string_view target, std::string& host, std::uint16_t& port);

// Whether an address is in a range a tunnel must not reach by default: loopback, link-local,
// private, shared (CGNAT), benchmark, multicast, reserved, unspecified, NAT64.
bool is_special_address(const std::string& address);

// Whether `address` lies in the CIDR block `cidr` ("10.0.0.0/8", "::1/128"); IPv4 blocks also
// match IPv4-mapped IPv6 addresses.
bool in_cidr(const std::string& address, const std::string& cidr);

// The built-in list of AI API hosts for shadow-AI alerts.
const std::vector<std::string>& default_ai_hosts();

// Whether `host` is `pattern`, or a regional variant of it: "bedrock-runtime.amazonaws.com"
// also matches "bedrock-runtime.us-east-1.amazonaws.com".
bool ai_host_matches(const std::string& host, const std::string& pattern);

}  // namespace sluice::intercept
