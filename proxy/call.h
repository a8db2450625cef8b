// One LLM API call through Sluice, from a complete request to the event it leaves behind:
// route, identity, body validation, request filters, the upstream exchange (with one retry
// on a stale pooled connection), the response relayed as it arrives (SSE events through the
// adapter and the response filters), the completion phase, and the event.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>

#include "conf/config.h"

namespace sluice {

class ClientConnection;

using ClientRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Returns whether the client connection may serve another request.
boost::asio::awaitable<bool> handle_call(ClientConnection& conn, ClientRequest& request,
                                         std::chrono::steady_clock::time_point start);

// The provider whose error shape a request expects before it is routed.
Provider provider_from_headers(const ClientRequest& request);

}  // namespace sluice
