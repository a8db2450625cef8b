#include "proxy/intercept/client_hello.h"

#include <string_view>
#include <vector>

namespace sluice::intercept {

namespace {

constexpr std::uint8_t kHandshakeRecord = 22;
constexpr std::uint8_t kClientHello = 1;
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint8_t kHostName = 0;
// A record's plaintext is at most 2^14 bytes (RFC 8446 §5.1).
constexpr std::size_t kMaxRecord = 1 << 14;

// A bounds-checked reader: every read fails (and stays failed) past the end.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> b) : b_(b) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return b_.size() - pos_; }
  std::uint32_t num(int bytes) {
    if (!ok_ || left() < static_cast<std::size_t>(bytes)) return fail();
    std::uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | b_[pos_++];
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (!ok_ || left() < n) {
      fail();
      return {};
    }
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // A vector with a length prefix of `len_bytes` bytes.
  Reader vec(int len_bytes) { return Reader(take(num(len_bytes)), ok_); }

 private:
  Reader(std::span<const std::uint8_t> b, bool ok) : b_(b), ok_(ok) {}
  std::uint32_t fail() {
    ok_ = false;
    return 0;
  }
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// The server_name extension's host_name; false when malformed.
bool read_server_name(Reader ext, std::string& out) {
  Reader list = ext.vec(2);
  if (!ext.ok() || ext.left() != 0 || list.left() == 0) return false;
  while (list.left() > 0) {
    std::uint32_t type = list.num(1);
    auto name = list.take(list.num(2));
    if (!list.ok()) return false;
    if (type != kHostName) continue;
    if (name.empty() || name.size() > 255) return false;
    std::string h;
    for (std::uint8_t c : name) {
      char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      if (!valid_host_char(l)) return false;
      h.push_back(l);
    }
    if (h.back() == '.') h.pop_back();
    if (h.empty()) return false;
    out = std::move(h);
    return true;
  }
  return true;
}

HelloInfo parse_body(std::span<const std::uint8_t> body, std::size_t consumed) {
  HelloInfo info;
  info.status = HelloStatus::kMalformed;
  Reader r(body);
  r.num(2);                               // legacy_version
  r.take(32);                             // random
  if (r.vec(1).left() > 32) return info;  // legacy_session_id is at most 32 bytes
  Reader suites = r.vec(2);
  Reader compression = r.vec(1);
  if (!r.ok() || suites.left() == 0 || suites.left() % 2 != 0 || compression.left() == 0)
    return info;
  if (r.left() != 0) {  // extensions are optional in old clients
    Reader exts = r.vec(2);
    if (!r.ok() || r.left() != 0) return info;
    bool seen_sni = false;
    while (exts.left() > 0) {
      std::uint32_t type = exts.num(2);
      Reader ext = exts.vec(2);
      if (!exts.ok()) return info;
      if (type != kServerNameExtension) continue;
      if (seen_sni || !read_server_name(ext, info.server_name)) return info;
      seen_sni = true;
    }
  }
  if (!r.ok()) return info;
  info.status = HelloStatus::kOk;
  info.consumed = consumed;
  return info;
}

}  // namespace

HelloInfo parse_client_hello(std::span<const std::uint8_t> bytes) {
  HelloInfo info;
  // Reassemble handshake-record payloads until the ClientHello's declared length is present.
  std::vector<std::uint8_t> handshake;
  std::size_t pos = 0;
  std::size_t need = 0;  // 4-byte handshake header + body, once known
  for (;;) {
    if (bytes.size() - pos < 5) {
      if (pos == 0 && !bytes.empty() && bytes[0] != kHandshakeRecord)
        info.status = HelloStatus::kNotTls;
      return info;  // kNeedMore unless the first byte already says otherwise
    }
    const std::uint8_t* h = bytes.data() + pos;
    if (h[0] != kHandshakeRecord || h[1] != 3) {
      info.status = pos == 0 ? HelloStatus::kNotTls : HelloStatus::kMalformed;
      return info;
    }
    std::size_t len = (std::size_t{h[3]} << 8) | h[4];
    if (len == 0 || len > kMaxRecord) {
      info.status = HelloStatus::kMalformed;
      return info;
    }
    if (bytes.size() - pos - 5 < len) return info;  // kNeedMore
    handshake.insert(handshake.end(), h + 5, h + 5 + len);
    pos += 5 + len;
    if (need == 0 && handshake.size() >= 4) {
      if (handshake[0] != kClientHello) {
        info.status = HelloStatus::kMalformed;
        return info;
      }
      need =
          4 + ((std::size_t{handshake[1]} << 16) | (std::size_t{handshake[2]} << 8) | handshake[3]);
      if (need > kMaxClientHello) {
        info.status = HelloStatus::kMalformed;
        return info;
      }
    }
    if (need != 0 && handshake.size() >= need) {
      // Trailing bytes after the ClientHello in its last record would be a second handshake
      // message, which a client must not send before the server's reply.
      if (handshake.size() != need) {
        info.status = HelloStatus::kMalformed;
        return info;
      }
      return parse_body(std::span<const std::uint8_t>(handshake).subspan(4), pos);
    }
    if (handshake.size() > kMaxClientHello) {
      info.status = HelloStatus::kMalformed;
      return info;
    }
  }
}

const char* to_string(HelloStatus s) {
  switch (s) {
    case HelloStatus::kOk:
      return "ok";
    case HelloStatus::kNeedMore:
      return "need_more";
    case HelloStatus::kNotTls:
      return "not_tls";
    case HelloStatus::kMalformed:
      return "malformed";
  }
  return "?";
}

}  // namespace sluice::intercept
