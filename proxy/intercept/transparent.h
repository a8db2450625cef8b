// Transparent mode: connections that iptables REDIRECTed to intercept.transparent_address
// (the Kubernetes sidecar setup in deploy/k8s/transparent/). The client believes it talks to
// the real host, so there is no CONNECT: the destination comes from SO_ORIGINAL_DST and the
// host name from the SNI of the client's TLS ClientHello, read before any handshake.
//
// Contract
//  * handle_transparent() returns true when the connection now carries intercepted TLS (the
//    request loop goes on over it), false when it must close (a tunnel that ended, a refusal,
//    a failure). `buffer` holds what was read of the ClientHello and is consumed.
//  * SNI on the intercept list (with a CA): TLS is terminated with a minted certificate for it
//    and the calls are governed like base-URL calls; the original destination is not used
//    (Sluice calls the configured upstream for the route, with verified TLS).
//  * Any other SNI, or none: a shadow-AI alert for known AI hosts, then a blind tunnel to the
//    original destination under the same policy as CONNECT tunnels (intercept.tunnel,
//    intercept.allow_private); a refusal closes the connection.
//  * Not redirected (no conntrack record, or the original destination is this listener
//    itself — a loop): closed, counted in sluice_tunnels_total{result="refused"}.
//  * Not TLS, a malformed or oversized ClientHello, or none within listener.header_timeout:
//    closed, counted in sluice_intercepts_total{result="failed"}.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>

namespace sluice {

class ClientConnection;

boost::asio::awaitable<bool> handle_transparent(ClientConnection& conn,
                                                boost::beast::flat_buffer& buffer);

}  // namespace sluice
