// Tests for proxy/http_heads.{h,cc}: the request head sent upstream and the response heads sent
// to the client. Hop-by-hop fields (RFC 9110 7.6.1) and every field named in Connection never
// cross the proxy; Sluice sets Host, framing, Accept-Encoding and (for virtual keys) the
// credentials itself; every other field is copied byte for byte, in order.
#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http_heads.h"

namespace sluice {
namespace {

using Fields = boost::beast::http::fields;
using Lines = std::vector<std::string>;

// Splits a head into its lines; checks it ends with exactly one empty line.
Lines lines_of(const std::string& head) {
  Lines out;
  EXPECT_GE(head.size(), 4u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << head;
  std::size_t i = 0;
  while (i < head.size()) {
    auto e = head.find("\r\n", i);
    if (e == std::string::npos) {
      ADD_FAILURE() << "line without CRLF: " << head.substr(i);
      break;
    }
    if (e == i) {
      EXPECT_EQ(e + 2, head.size()) << "bytes after the empty line";
      break;
    }
    out.push_back(head.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

// Names of the fields (everything before ':'), lower-cased, in order; skips the start line.
std::vector<std::string> names_of(const Lines& lines) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i < lines.size(); ++i)
    out.push_back(lower(lines[i].substr(0, lines[i].find(':'))));
  return out;
}

int count_name(const Lines& lines, std::string_view lname) {
  int n = 0;
  for (const auto& name : names_of(lines)) n += name == lname;
  return n;
}

bool has_line(const Lines& lines, std::string_view line) {
  for (std::size_t i = 1; i < lines.size(); ++i)
    if (lines[i] == line) return true;
  return false;
}

Fields client_request_fields() {
  Fields f;
  f.insert("Host", "127.0.0.1:8080");
  f.insert("Connection", "keep-alive, X-Hop-Custom");
  f.insert("Keep-Alive", "timeout=5");
  f.insert("TE", "trailers");
  f.insert("Transfer-Encoding", "chunked");
  f.insert("Upgrade", "websocket");
  f.insert("Proxy-Authorization", "Basic c2VjcmV0");
  f.insert("Proxy-Connection", "keep-alive");
  f.insert("Trailer", "X-Checksum");
  f.insert("Content-Length", "999");
  f.insert("Expect", "100-continue");
  f.insert("X-Hop-Custom", "must go");
  f.insert("Accept-Encoding", "gzip, br");
  f.insert("Content-Type", "application/json");
  f.insert("Authorization", "Bearer sk-client");
  f.insert("X-Mixed-Case-Header", "Value  With\tSpaces ;q=1");
  f.insert("OpenAI-Beta", "assistants=v2");
  f.insert("anthropic-version", "2023-06-01");
  f.insert("User-Agent", "OpenAI/Python 1.50.0");
  return f;
}

UpstreamHeadOptions upstream_options() {
  UpstreamHeadOptions o;
  o.method = "POST";
  o.target = "/v1/chat/completions?x=1";
  o.host_header = "api.openai.com";
  o.body_size = 123;
  return o;
}

// ---------------------------------------------------------------------------------------------
// build_upstream_head

TEST(UpstreamHead, RequestLineAndHostComeFirst) {
  Lines l = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  ASSERT_GE(l.size(), 2u);
  EXPECT_EQ(l[0], "POST /v1/chat/completions?x=1 HTTP/1.1");
  EXPECT_EQ(l[1], "Host: api.openai.com");
  EXPECT_EQ(count_name(l, "host"), 1);
}

TEST(UpstreamHead, DropsHopByHopFields) {
  Lines l = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  for (const char* name : {"connection", "keep-alive", "te", "transfer-encoding", "upgrade",
                           "proxy-authorization", "proxy-connection", "trailer", "expect"}) {
    EXPECT_EQ(count_name(l, name), 0) << name;
  }
  EXPECT_FALSE(has_line(l, "Host: 127.0.0.1:8080"));
  EXPECT_FALSE(has_line(l, "Content-Length: 999"));
}

TEST(UpstreamHead, DropsFieldsNamedInConnection) {
  Fields f;
  f.insert("Connection", "X-A ,\tx-b");
  f.insert("connection", "X-C");
  f.insert("X-A", "1");
  f.insert("X-B", "2");
  f.insert("x-c", "3");
  f.insert("X-D", "4");
  Lines l = lines_of(build_upstream_head(f, upstream_options()));
  EXPECT_EQ(count_name(l, "x-a"), 0);
  EXPECT_EQ(count_name(l, "x-b"), 0);
  EXPECT_EQ(count_name(l, "x-c"), 0);
  EXPECT_TRUE(has_line(l, "X-D: 4"));
  Lines l2 = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  EXPECT_EQ(count_name(l2, "x-hop-custom"), 0);
}

TEST(UpstreamHead, ForcesIdentityAcceptEncoding) {
  Lines l = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  EXPECT_EQ(count_name(l, "accept-encoding"), 1);
  EXPECT_TRUE(has_line(l, "Accept-Encoding: identity"));
  Fields none;
  Lines l2 = lines_of(build_upstream_head(none, upstream_options()));
  EXPECT_TRUE(has_line(l2, "Accept-Encoding: identity"));
}

TEST(UpstreamHead, SetsContentLengthFromTheBody) {
  Lines l = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  EXPECT_EQ(count_name(l, "content-length"), 1);
  EXPECT_TRUE(has_line(l, "Content-Length: 123"));

  UpstreamHeadOptions o = upstream_options();
  o.body_size = 0;
  EXPECT_TRUE(
      has_line(lines_of(build_upstream_head(client_request_fields(), o)), "Content-Length: 0"));

  o.method = "GET";
  o.send_content_length = false;
  Lines get = lines_of(build_upstream_head(client_request_fields(), o));
  EXPECT_EQ(count_name(get, "content-length"), 0);
  EXPECT_EQ(get[0], "GET /v1/chat/completions?x=1 HTTP/1.1");
}

TEST(UpstreamHead, KeepsOtherFieldsByteExactAndInOrder) {
  Lines l = lines_of(build_upstream_head(client_request_fields(), upstream_options()));
  EXPECT_TRUE(has_line(l, "X-Mixed-Case-Header: Value  With\tSpaces ;q=1"));
  EXPECT_TRUE(has_line(l, "Authorization: Bearer sk-client"));  // no replacement asked for
  std::vector<std::string> expected = {
      "host",          "content-type",      "authorization", "x-mixed-case-header",
      "openai-beta",   "anthropic-version", "user-agent",    "accept-encoding",
      "content-length"};
  EXPECT_EQ(names_of(l), expected);
  // Original spelling of names is kept.
  EXPECT_TRUE(has_line(l, "OpenAI-Beta: assistants=v2"));
  EXPECT_TRUE(has_line(l, "anthropic-version: 2023-06-01"));
}

TEST(UpstreamHead, ReplacesCredentialsWithAuthorization) {
  Fields f = client_request_fields();
  f.insert("x-api-key", "sk-virtual-client");
  UpstreamHeadOptions o = upstream_options();
  o.auth_header = "Authorization";
  o.auth_value = "Bearer sk-provider";
  Lines l = lines_of(build_upstream_head(f, o));
  EXPECT_EQ(count_name(l, "authorization"), 1);
  EXPECT_EQ(count_name(l, "x-api-key"), 0);
  EXPECT_TRUE(has_line(l, "Authorization: Bearer sk-provider"));
  EXPECT_FALSE(has_line(l, "Authorization: Bearer sk-client"));
}

TEST(UpstreamHead, ReplacesCredentialsWithXApiKey) {
  Fields f = client_request_fields();  // carries Authorization: Bearer sk-client
  f.insert("X-Api-Key", "sk-virtual-client");
  UpstreamHeadOptions o = upstream_options();
  o.auth_header = "x-api-key";
  o.auth_value = "sk-ant-provider";
  Lines l = lines_of(build_upstream_head(f, o));
  EXPECT_EQ(count_name(l, "authorization"), 0);
  EXPECT_EQ(count_name(l, "x-api-key"), 1);
  EXPECT_TRUE(has_line(l, "x-api-key: sk-ant-provider"));
  // No trace of the client's keys.
  const std::string head = build_upstream_head(f, o);
  EXPECT_EQ(head.find("sk-client"), std::string::npos);
  EXPECT_EQ(head.find("sk-virtual-client"), std::string::npos);
}

TEST(UpstreamHead, ClientXApiKeyKeptWithoutReplacement) {
  Fields f;
  f.insert("x-api-key", "sk-ant-client");
  Lines l = lines_of(build_upstream_head(f, upstream_options()));
  EXPECT_TRUE(has_line(l, "x-api-key: sk-ant-client"));
}

TEST(UpstreamHead, ExactBytesForASmallRequest) {
  Fields f;
  f.insert("Content-Type", "application/json");
  f.insert("Connection", "close");
  UpstreamHeadOptions o;
  o.method = "POST";
  o.target = "/v1/messages";
  o.host_header = "api.anthropic.com";
  o.body_size = 42;
  o.auth_header = "x-api-key";
  o.auth_value = "sk-ant";
  EXPECT_EQ(build_upstream_head(f, o),
            "POST /v1/messages HTTP/1.1\r\n"
            "Host: api.anthropic.com\r\n"
            "Content-Type: application/json\r\n"
            "x-api-key: sk-ant\r\n"
            "Accept-Encoding: identity\r\n"
            "Content-Length: 42\r\n"
            "\r\n");
}

// ---------------------------------------------------------------------------------------------
// build_client_head / build_local_head

Fields upstream_response_fields() {
  Fields f;
  f.insert("Date", "Tue, 01 Jul 2025 00:00:00 GMT");
  f.insert("Content-Type", "text/event-stream; charset=utf-8");
  f.insert("Transfer-Encoding", "chunked");
  f.insert("Content-Length", "10");
  f.insert("Connection", "keep-alive, X-Upstream-Hop");
  f.insert("Keep-Alive", "timeout=30");
  f.insert("X-Upstream-Hop", "drop me");
  f.insert("Proxy-Authenticate", "Basic");
  f.insert("Upgrade", "h2c");
  f.insert("Trailer", "X-Foo");
  f.insert("openai-processing-ms", "123");
  f.insert("x-request-id", "req_abc");
  f.insert("Set-Cookie", "__cf_bm=abc; path=/; HttpOnly");
  return f;
}

TEST(ClientHead, StatusLineAndEndToEndFields) {
  ClientHeadOptions o;
  o.status = 200;
  o.reason = "OK";
  o.chunked = true;
  Lines l = lines_of(build_client_head(upstream_response_fields(), o));
  ASSERT_FALSE(l.empty());
  EXPECT_EQ(l[0], "HTTP/1.1 200 OK");
  EXPECT_TRUE(has_line(l, "Date: Tue, 01 Jul 2025 00:00:00 GMT"));
  EXPECT_TRUE(has_line(l, "Content-Type: text/event-stream; charset=utf-8"));
  EXPECT_TRUE(has_line(l, "openai-processing-ms: 123"));
  EXPECT_TRUE(has_line(l, "x-request-id: req_abc"));
  EXPECT_TRUE(has_line(l, "Set-Cookie: __cf_bm=abc; path=/; HttpOnly"));
  for (const char* name : {"keep-alive", "x-upstream-hop", "proxy-authenticate", "upgrade",
                           "trailer", "content-length"}) {
    EXPECT_EQ(count_name(l, name), 0) << name;
  }
}

TEST(ClientHead, ChunkedFraming) {
  ClientHeadOptions o;
  o.reason = "OK";
  o.chunked = true;
  o.content_length = 55;  // ignored when chunked
  Lines l = lines_of(build_client_head(upstream_response_fields(), o));
  EXPECT_EQ(count_name(l, "transfer-encoding"), 1);
  EXPECT_TRUE(has_line(l, "Transfer-Encoding: chunked"));
  EXPECT_EQ(count_name(l, "content-length"), 0);
}

// Sluice's own limit headers (added by the rate-limit and budget filters): of two counts the
// tighter one reaches the client, other values of Sluice's replace the provider's.
TEST(ClientHead, SluiceLimitHeadersReplaceTheProvidersWhenTighter) {
  Fields up = upstream_response_fields();
  up.insert("x-ratelimit-remaining-requests", "499");
  up.insert("x-ratelimit-limit-requests", "500");
  up.insert("x-ratelimit-reset-requests", "120ms");
  std::vector<std::pair<std::string, std::string>> extra = {
      {"x-ratelimit-remaining-requests", "7"},   // tighter: Sluice's wins
      {"X-RateLimit-Limit-Requests", "1000"},    // looser: the provider's stays
      {"x-ratelimit-reset-requests", "30s"},     // not a count: Sluice's replaces
      {"x-sluice-budget", "ok"}};                // only Sluice's
  ClientHeadOptions o;
  o.reason = "OK";
  o.content_length = 0;
  o.extra = &extra;
  Lines l = lines_of(build_client_head(up, o));
  EXPECT_EQ(count_name(l, "x-ratelimit-remaining-requests"), 1);
  EXPECT_TRUE(has_line(l, "x-ratelimit-remaining-requests: 7"));
  EXPECT_EQ(count_name(l, "x-ratelimit-limit-requests"), 1);
  EXPECT_TRUE(has_line(l, "x-ratelimit-limit-requests: 500"));
  EXPECT_EQ(count_name(l, "x-ratelimit-reset-requests"), 1);
  EXPECT_TRUE(has_line(l, "x-ratelimit-reset-requests: 30s"));
  EXPECT_TRUE(has_line(l, "x-sluice-budget: ok"));
}

TEST(ClientHead, ContentLengthFraming) {
  ClientHeadOptions o;
  o.reason = "OK";
  o.content_length = 2048;
  Lines l = lines_of(build_client_head(upstream_response_fields(), o));
  EXPECT_EQ(count_name(l, "transfer-encoding"), 0);
  EXPECT_EQ(count_name(l, "content-length"), 1);
  EXPECT_TRUE(has_line(l, "Content-Length: 2048"));
}

TEST(ClientHead, NoFramingForBodylessResponses) {
  ClientHeadOptions o;
  o.status = 204;
  o.reason = "No Content";
  o.content_length = -1;
  Lines l = lines_of(build_client_head(upstream_response_fields(), o));
  EXPECT_EQ(l[0], "HTTP/1.1 204 No Content");
  EXPECT_EQ(count_name(l, "transfer-encoding"), 0);
  EXPECT_EQ(count_name(l, "content-length"), 0);
}

TEST(ClientHead, KeepAliveAndClose) {
  ClientHeadOptions o;
  o.reason = "OK";
  o.content_length = 0;
  o.keep_alive = true;
  Lines ka = lines_of(build_client_head(upstream_response_fields(), o));
  EXPECT_EQ(count_name(ka, "connection"), 1);
  EXPECT_TRUE(has_line(ka, "Connection: keep-alive"));
  o.keep_alive = false;
  Lines cl = lines_of(build_client_head(upstream_response_fields(), o));
  EXPECT_EQ(count_name(cl, "connection"), 1);
  EXPECT_TRUE(has_line(cl, "Connection: close"));
}

TEST(ClientHead, RequestIdAndExtraHeadersInOrder) {
  std::vector<std::pair<std::string, std::string>> extra = {{"x-sluice-error", "filter_rejected"},
                                                            {"retry-after", "5"}};
  ClientHeadOptions o;
  o.status = 429;
  o.reason = "Too Many Requests";
  o.request_id = "01J0000000000000000000000";
  o.content_length = 10;
  o.extra = &extra;
  Fields f;
  f.insert("Content-Type", "application/json");
  EXPECT_EQ(build_client_head(f, o),
            "HTTP/1.1 429 Too Many Requests\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 10\r\n"
            "x-sluice-request-id: 01J0000000000000000000000\r\n"
            "x-sluice-error: filter_rejected\r\n"
            "retry-after: 5\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
}

TEST(ClientHead, NoRequestIdHeaderWhenEmpty) {
  ClientHeadOptions o;
  o.reason = "OK";
  o.content_length = 0;
  Lines l = lines_of(build_client_head(Fields{}, o));
  EXPECT_EQ(count_name(l, "x-sluice-request-id"), 0);
}

TEST(ClientHead, EmptyReasonBecomesUnknown) {
  ClientHeadOptions o;
  o.status = 599;
  o.content_length = 0;
  Lines l = lines_of(build_client_head(Fields{}, o));
  EXPECT_EQ(l[0], "HTTP/1.1 599 Unknown");
}

TEST(LocalHead, ContentTypeAndFraming) {
  std::vector<std::pair<std::string, std::string>> extra = {{"x-sluice-error", "route_not_found"}};
  ClientHeadOptions o;
  o.status = 404;
  o.reason = "Not Found";
  o.request_id = "rid";
  o.content_length = 77;
  o.keep_alive = false;
  o.extra = &extra;
  EXPECT_EQ(build_local_head(o, "application/json"),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 77\r\n"
            "x-sluice-request-id: rid\r\n"
            "x-sluice-error: route_not_found\r\n"
            "Connection: close\r\n"
            "\r\n");
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(HttpHeadsHelpers, IsHopByHop) {
  for (const char* n :
       {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
        "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host", "expect"}) {
    EXPECT_TRUE(is_hop_by_hop(n)) << n;
  }
  for (const char* n : {"authorization", "x-api-key", "content-type", "accept-encoding", "trailers",
                        "tes", "", "Connection"}) {
    EXPECT_FALSE(is_hop_by_hop(n)) << n;  // expects lower-case names
  }
}

TEST(HttpHeadsHelpers, Lower) {
  EXPECT_EQ(lower("Content-TYPE"), "content-type");
  EXPECT_EQ(lower(""), "");
  EXPECT_EQ(lower("x-\xc3\x89"), "x-\xc3\x89");  // bytes >= 0x80 untouched
}

}  // namespace
}  // namespace sluice
