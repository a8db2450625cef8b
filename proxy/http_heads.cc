#include "proxy/http_heads.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace sluice {

namespace http = boost::beast::http;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  return out;
}

namespace {
inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}
}  // namespace

bool iequals(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != lower_b[i]) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view lower_prefix) {
  return s.size() >= lower_prefix.size() && iequals(s.substr(0, lower_prefix.size()), lower_prefix);
}

bool icontains(std::string_view s, std::string_view lower_needle) {
  if (lower_needle.empty()) return true;
  for (std::size_t i = 0; i + lower_needle.size() <= s.size(); ++i)
    if (iequals(s.substr(i, lower_needle.size()), lower_needle)) return true;
  return false;
}

bool is_hop_by_hop(std::string_view n) {
  static constexpr std::string_view kNames[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "proxy-authorization",
                                                "proxy-authenticate",
                                                "te",
                                                "trailer",
                                                "transfer-encoding",
                                                "upgrade",
                                                "content-length",
                                                "host",
                                                "expect"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

namespace {

// Hop-by-hop by Beast's field code: the common case needs no string comparison at all.
bool is_hop_by_hop(http::field f, std::string_view name) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::proxy_authorization:
    case http::field::proxy_authenticate:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
    case http::field::host:
    case http::field::expect:
      return true;
    case http::field::unknown:
      break;
    default:
      return false;
  }
  for (std::string_view k :
       {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
        "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host", "expect"})
    if (iequals(name, k)) return true;
  return false;
}

// Field names listed in the Connection header are hop-by-hop too. Views into the fields;
// "keep-alive" and "close" (the usual values) name no field and are left out.
// Calls fn(token) for each comma-separated, trimmed, non-empty token of every Connection
// field; stops early when fn returns true, and then returns true.
template <typename Fn>
bool for_each_connection_token(const http::fields& f, Fn&& fn) {
  for (const auto& field : f) {
    if (field.name() != http::field::connection) continue;
    std::string_view v = field.value();
    std::size_t i = 0;
    while (i < v.size()) {
      auto comma = v.find(',', i);
      std::string_view tok = v.substr(i, comma == std::string_view::npos ? v.npos : comma - i);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty() && fn(tok)) return true;
      if (comma == std::string_view::npos) break;
      i = comma + 1;
    }
  }
  return false;
}

struct ConnectionTokens {
  static constexpr std::size_t kMax = 16;
  std::string_view tokens[kMax];
  std::size_t count = 0;
  bool overflow = false;  // more tokens than kMax: fall back to scanning the header again
};

ConnectionTokens connection_tokens(const http::fields& f) {
  ConnectionTokens out;
  for_each_connection_token(f, [&](std::string_view tok) {
    if (iequals(tok, "keep-alive") || iequals(tok, "close")) return false;
    if (out.count < ConnectionTokens::kMax)
      out.tokens[out.count++] = tok;
    else
      out.overflow = true;
    return false;
  });
  return out;
}

bool named_in_connection(const http::fields& fields, const ConnectionTokens& t,
                         std::string_view name) {
  const std::string lname = lower(name);
  for (std::size_t i = 0; i < t.count; ++i)
    if (iequals(t.tokens[i], lname)) return true;
  if (!t.overflow) return false;
  // Rare: more tokens than the cap; scan the header again without one.
  return for_each_connection_token(fields,
                                   [&](std::string_view tok) { return iequals(tok, lname); });
}

bool skip(const http::fields& fields, const ConnectionTokens& t,
          const http::fields::value_type& f) {
  if (is_hop_by_hop(f.name(), f.name_string())) return true;
  if (t.count == 0 && !t.overflow) return false;
  return named_in_connection(fields, t, f.name_string());
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

std::string build_upstream_head(const http::fields& client_fields, const UpstreamHeadOptions& o) {
  std::string out;
  out.reserve(512);
  out.append(o.method);
  out += ' ';
  out.append(o.target);
  out += " HTTP/1.1\r\n";
  append_field(out, "Host", o.host_header);
  auto tokens = connection_tokens(client_fields);
  for (const auto& f : client_fields) {
    if (skip(client_fields, tokens, f)) continue;
    // Sluice must see what the provider sends, so it asks for an uncompressed response.
    if (f.name() == http::field::accept_encoding) continue;
    if (!o.auth_header.empty() &&
        (f.name() == http::field::authorization ||
         (f.name() == http::field::unknown && iequals(f.name_string(), "x-api-key"))))
      continue;
    append_field(out, f.name_string(), f.value());
  }
  if (!o.auth_header.empty()) append_field(out, o.auth_header, o.auth_value);
  append_field(out, "Accept-Encoding", "identity");
  if (o.send_content_length) {
    out += "Content-Length: ";
    append_uint(out, o.body_size);
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

namespace {
void append_status_line(std::string& out, int status, std::string_view reason) {
  out += "HTTP/1.1 ";
  append_uint(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out.append(reason.empty() ? std::string_view("Unknown") : reason);
  out += "\r\n";
}

// A header value that is a plain non-negative integer (a "remaining" or "limit" count).
bool as_count(std::string_view v, std::uint64_t& out) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return false;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

// When Sluice adds a header the upstream also sent (its own rate-limit headers): the tighter
// of two counts wins, otherwise Sluice's value. Returns true when Sluice's `extra` header
// replaces the upstream's field (then the upstream's is dropped), false when the upstream's
// smaller count stays (then Sluice's is dropped).
bool extra_wins(std::string_view extra_value, std::string_view upstream_value) {
  std::uint64_t mine = 0, theirs = 0;
  if (as_count(extra_value, mine) && as_count(upstream_value, theirs)) return mine < theirs;
  return true;
}

const std::pair<std::string, std::string>* find_extra(const ClientHeadOptions& o,
                                                      std::string_view name) {
  if (o.extra == nullptr) return nullptr;
  for (const auto& kv : *o.extra)
    if (kv.first.size() == name.size() && iequals(name, lower(kv.first))) return &kv;
  return nullptr;
}

void append_framing(std::string& out, const ClientHeadOptions& o,
                    const http::fields* upstream = nullptr) {
  if (o.chunked) {
    append_field(out, "Transfer-Encoding", "chunked");
  } else if (o.content_length >= 0) {
    out += "Content-Length: ";
    append_uint(out, static_cast<std::uint64_t>(o.content_length));
    out += "\r\n";
  }
  if (!o.request_id.empty()) append_field(out, "x-sluice-request-id", o.request_id);
  if (o.extra != nullptr) {
    for (const auto& [k, v] : *o.extra) {
      if (upstream != nullptr) {
        auto it = upstream->find(k);
        if (it != upstream->end() && !extra_wins(v, it->value())) continue;
      }
      append_field(out, k, v);
    }
  }
  append_field(out, "Connection", o.keep_alive ? "keep-alive" : "close");
  out += "\r\n";
}
}  // namespace

std::string build_client_head(const http::fields& upstream_fields, const ClientHeadOptions& o) {
  std::string out;
  out.reserve(1024);
  append_status_line(out, o.status, o.reason);
  auto tokens = connection_tokens(upstream_fields);
  for (const auto& f : upstream_fields) {
    if (skip(upstream_fields, tokens, f)) continue;
    if (const auto* mine = find_extra(o, f.name_string());
        mine != nullptr && extra_wins(mine->second, f.value()))
      continue;  // Sluice's tighter limit header replaces the provider's
    append_field(out, f.name_string(), f.value());
  }
  append_framing(out, o, &upstream_fields);
  return out;
}

std::string build_local_head(const ClientHeadOptions& o, std::string_view content_type) {
  std::string out;
  out.reserve(256);
  append_status_line(out, o.status, o.reason);
  append_field(out, "Content-Type", content_type);
  append_framing(out, o);
  return out;
}

}  // namespace sluice
