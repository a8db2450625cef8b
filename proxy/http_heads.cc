#include "proxy/http_heads.h"

#include <algorithm>
#include <cctype>

namespace sluice {

namespace http = boost::beast::http;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_hop_by_hop(std::string_view n) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive",        "proxy-connection", "proxy-authorization",
      "proxy-authenticate", "te",        "trailer",          "transfer-encoding",
      "upgrade",    "content-length",    "host",             "expect"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

namespace {

// Field names listed in the Connection header are hop-by-hop too.
std::vector<std::string> connection_tokens(const http::fields& f) {
  std::vector<std::string> out;
  for (const auto& field : f) {
    if (field.name() != http::field::connection) continue;
    std::string_view v = field.value();
    std::size_t i = 0;
    while (i < v.size()) {
      auto comma = v.find(',', i);
      std::string_view tok = v.substr(i, comma == std::string_view::npos ? v.npos : comma - i);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty()) out.push_back(lower(tok));
      if (comma == std::string_view::npos) break;
      i = comma + 1;
    }
  }
  return out;
}

bool skip(const std::vector<std::string>& conn_tokens, const std::string& lname) {
  if (is_hop_by_hop(lname)) return true;
  return std::find(conn_tokens.begin(), conn_tokens.end(), lname) != conn_tokens.end();
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
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
    std::string lname = lower(f.name_string());
    if (skip(tokens, lname)) continue;
    // Sluice must see what the provider sends, so it asks for an uncompressed response.
    if (lname == "accept-encoding") continue;
    if (!o.auth_header.empty() && (lname == "authorization" || lname == "x-api-key")) continue;
    append_field(out, f.name_string(), f.value());
  }
  if (!o.auth_header.empty()) append_field(out, o.auth_header, o.auth_value);
  append_field(out, "Accept-Encoding", "identity");
  if (o.send_content_length) append_field(out, "Content-Length", std::to_string(o.body_size));
  out += "\r\n";
  return out;
}

namespace {
void append_status_line(std::string& out, int status, std::string_view reason) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out.append(reason.empty() ? std::string_view("Unknown") : reason);
  out += "\r\n";
}

void append_framing(std::string& out, const ClientHeadOptions& o) {
  if (o.chunked) {
    append_field(out, "Transfer-Encoding", "chunked");
  } else if (o.content_length >= 0) {
    append_field(out, "Content-Length", std::to_string(o.content_length));
  }
  if (!o.request_id.empty()) append_field(out, "x-sluice-request-id", o.request_id);
  if (o.extra != nullptr)
    for (const auto& [k, v] : *o.extra) append_field(out, k, v);
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
    std::string lname = lower(f.name_string());
    if (skip(tokens, lname)) continue;
    append_field(out, f.name_string(), f.value());
  }
  append_framing(out, o);
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
