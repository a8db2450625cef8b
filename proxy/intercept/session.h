// The pieces HTTPS_PROXY mode (connect.cc) and transparent mode (transparent.cc) share: TLS
// termination with a minted certificate, the tunnel destination policy, the byte relay, and
// the shadow-AI alert.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace sluice {

class ClientConnection;
class Runtime;

namespace intercept {

// Mints (or takes from the cache) the leaf for `host`, writes `announce` to the client (the
// CONNECT's 200; empty in transparent mode), completes the client's TLS handshake — the bytes
// in `early` are its start — and checks that the SNI, when sent, names `host`. On success the
// connection goes on over TLS and its calls are attributed to `host`. Counts in
// sluice_intercepts_total; false when the connection must close.
boost::asio::awaitable<bool> terminate_tls(ClientConnection& conn, const Runtime& rt,
                                           const std::string& host, std::string_view announce,
                                           boost::beast::flat_buffer& early);

// Raises a shadow_ai.detected alert when `host` is a known AI API host (intercept.ai_hosts, or
// the built-in list): traffic Sluice carries without governing it. `mode` ("connect" or
// "transparent") shows in the alert's message.
void check_shadow_ai(ClientConnection& conn, const Runtime& rt, const std::string& host,
                     std::uint16_t port, std::string_view mode);

// The endpoints a tunnel may reach: special ranges only inside intercept.allow_private.
std::vector<boost::asio::ip::tcp::endpoint> permitted_endpoints(
    const InterceptConfig& ic, const std::vector<boost::asio::ip::tcp::endpoint>& candidates);

// Connects to the first reachable of `endpoints` within `timeout` (then beast::error::timeout).
boost::asio::awaitable<boost::system::error_code> dial(
    const std::vector<boost::asio::ip::tcp::endpoint>& endpoints, boost::asio::ip::tcp::socket& out,
    std::chrono::milliseconds timeout);

// Carries bytes both ways between the client and `upstream` — first `early`, what the client
// sent before the tunnel existed — until either side closes or both stay silent for the idle
// timeout. Counts in sluice_tunnels_total / sluice_tunnel_bytes_total.
boost::asio::awaitable<void> relay(ClientConnection& conn, boost::asio::ip::tcp::socket upstream,
                                   boost::beast::flat_buffer& early,
                                   std::chrono::milliseconds idle);

}  // namespace intercept
}  // namespace sluice
