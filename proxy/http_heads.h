// Serializing the request head Sluice sends upstream and the response head it sends the
// client. Pure functions over Beast header containers; hop-by-hop fields (RFC 9110 §7.6.1,
// including every field named in Connection) never cross the proxy.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

struct UpstreamHeadOptions {
  std::string_view method;
  std::string_view target;       // origin-form path + query
  std::string_view host_header;  // Host sent upstream
  std::size_t body_size = 0;
  bool send_content_length = true;
  // Replace the client's credentials: non-empty means drop Authorization and x-api-key and
  // send this instead (`auth_header`: "authorization" with "Bearer <key>", or "x-api-key").
  std::string_view auth_header;
  std::string auth_value;
};

std::string build_upstream_head(const boost::beast::http::fields& client_fields,
                                const UpstreamHeadOptions& options);

struct ClientHeadOptions {
  int status = 200;
  std::string_view reason;
  std::string_view request_id;
  bool chunked = false;              // else Content-Length: content_length
  std::int64_t content_length = -1;  // -1 with !chunked: no body framing (HEAD, 204, 304)
  bool keep_alive = true;
  // Headers Sluice adds (filters' ctx.response_headers). One the upstream also sent replaces
  // it, except that of two integer values (rate-limit counts) the smaller one is kept.
  const std::vector<std::pair<std::string, std::string>>* extra = nullptr;
};

// Response head for the client, copying the upstream's end-to-end fields.
std::string build_client_head(const boost::beast::http::fields& upstream_fields,
                              const ClientHeadOptions& options);

// Response head for a local answer (no upstream fields).
std::string build_local_head(const ClientHeadOptions& options, std::string_view content_type);

// True for hop-by-hop fields and those the proxy always sets itself.
bool is_hop_by_hop(std::string_view lower_name);

// Lower-case copy of a field name.
std::string lower(std::string_view s);

// ASCII case-insensitive comparisons (no allocation; bytes >= 0x80 compare exactly).
bool iequals(std::string_view a, std::string_view lower_b);
bool istarts_with(std::string_view s, std::string_view lower_prefix);
bool icontains(std::string_view s, std::string_view lower_needle);

}  // namespace sluice
