// The server name a TLS client asks for, read from its ClientHello before any handshake
// (RFC 8446 §4.1.2, RFC 6066 §3): transparent mode learns the host from it.
//
// Contract
//  * parse_client_hello() looks at the bytes a client sent first and never reads past them.
//  * kNeedMore: a valid prefix of a ClientHello; read more and call again with the whole prefix.
//  * kNotTls: the first record is not a TLS handshake record (plain HTTP, garbage).
//  * kMalformed: a TLS record that is not a well-formed ClientHello, or one longer than
//    kMaxClientHello (records may fragment a ClientHello; they are reassembled up to that cap).
//  * kOk: `server_name` holds the host_name entry of the server_name extension, lower-cased,
//    without a trailing dot — or is empty when the client sent none (a connection to an
//    address). A host name with characters outside [a-z0-9.-_] is kMalformed.
//  * `consumed` (kOk only): how many bytes the records holding the ClientHello span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace sluice::intercept {

enum class HelloStatus { kOk, kNeedMore, kNotTls, kMalformed };

struct HelloInfo {
  HelloStatus status = HelloStatus::kNeedMore;
  std::string server_name;
  std::size_t consumed = 0;
};

inline constexpr std::size_t kMaxClientHello = 64 * 1024;

HelloInfo parse_client_hello(std::span<const std::uint8_t> bytes);

const char* to_string(HelloStatus s);

}  // namespace sluice::intercept
