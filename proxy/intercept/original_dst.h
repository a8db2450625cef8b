// Transparent mode: where a connection that iptables REDIRECTed to Sluice was going.
//
// Contract
//  * original_destination() asks netfilter's connection tracking (SO_ORIGINAL_DST for IPv4,
//    IP6T_SO_ORIGINAL_DST for IPv6) for the destination the client connected to before NAT.
//  * false with `error` set when the socket has no such record (conntrack not loaded, not a
//    TCP socket). A connection made straight to the listener, not redirected, reports the
//    listener's own address: callers compare with the local endpoint to refuse loops.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::intercept {

struct OriginalDestination {
  std::string address;  // numeric, without brackets
  std::uint16_t port = 0;
};

bool original_destination(int fd, bool ipv6, OriginalDestination& out, std::string& error);

}  // namespace sluice::intercept
