// HTTPS_PROXY mode: CONNECT requests (RFC 9110 §9.3.6).
//
// Contract
//  * handle_connect() serves one CONNECT on a client connection. It returns true when the
//    connection now carries intercepted TLS (the request loop goes on over it), false when the
//    connection ends (a tunnel that closed, a refusal, a failed handshake).
//  * The target must be authority-form `host:port` (IPv6 in brackets); anything else is 400.
//  * Proxy-Authorization (intercept.proxy_users): valid Basic credentials set the identity of
//    every call on the connection; wrong or malformed credentials, or none when
//    intercept.proxy_auth is `required`, answer 407 (counted as client error auth_refused).
//  * Policy (config `intercept`): `tunnel: deny` answers 403. Otherwise the host is resolved
//    and a destination in a loopback, link-local, private, shared, multicast or unspecified
//    range is refused with 403 unless it lies inside an `allow_private` block — so Sluice is
//    never an open door into the pod's network. Unreachable destinations answer 502/504.
//  * A CONNECT to a known AI API host that Sluice does not intercept (`ai_hosts`, or the
//    built-in list) raises a `shadow_ai.detected` alert: that traffic passes ungoverned.
//  * After "200 Connection established" the bytes flow both ways unchanged (bytes the client
//    sent early included) until either side closes or both stay silent for
//    listener.idle_timeout. Counted in sluice_tunnels_total{result} and
//    sluice_tunnel_bytes_total{direction}.
//  * A host on the intercept list (intercept.hosts, with intercept.ca_cert/ca_key configured)
//    is not tunnelled: after the 200, Sluice completes the client's TLS handshake with a
//    certificate minted for the CONNECT host, checks that the SNI (when sent) names that host,
//    and the connection then carries HTTP calls that Sluice routes, filters and records exactly
//    like base-URL calls. Handshake failures (garbage, an untrusting client, an SNI mismatch)
//    close the connection and count in sluice_intercepts_total{result}.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "proxy/call.h"

namespace sluice {

class ClientConnection;

boost::asio::awaitable<bool> handle_connect(ClientConnection& conn, const ClientRequest& request,
                                            boost::beast::flat_buffer& early_bytes);

}  // namespace sluice
