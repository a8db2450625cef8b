#include "proxy/intercept/original_dst.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sluice::intercept {

namespace {
// <linux/netfilter_ipv6/ip6_tables.h> drags in the whole ip6tables ABI for this one constant.
constexpr int kIp6tSoOriginalDst = 80;
}  // namespace

bool original_destination(int fd, bool ipv6, OriginalDestination& out, std::string& error) {
  char text[INET6_ADDRSTRLEN] = {};
  if (!ipv6) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a, &len) != 0) {
      error = std::strerror(errno);
      return false;
    }
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    out.port = ntohs(a.sin_port);
  } else {
    sockaddr_in6 a{};
    socklen_t len = sizeof a;
    if (::getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &a, &len) != 0) {
      error = std::strerror(errno);
      return false;
    }
    ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    out.port = ntohs(a.sin6_port);
  }
  out.address = text;
  return true;
}

}  // namespace sluice::intercept
