#include "conf/key_fingerprint.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace sluice {

std::string key_fingerprint(std::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  // OpenSSL 3's one-shot SHA256() fetches the algorithm on every call; fetch it once per
  // thread (this runs on every request).
  struct Sha {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Sha() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local Sha sha;
  unsigned int len = 0;
  if (sha.md == nullptr || sha.ctx == nullptr ||
      EVP_DigestInit_ex(sha.ctx, sha.md, nullptr) != 1 ||
      EVP_DigestUpdate(sha.ctx, key.data(), key.size()) != 1 ||
      EVP_DigestFinal_ex(sha.ctx, digest, &len) != 1) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace sluice
