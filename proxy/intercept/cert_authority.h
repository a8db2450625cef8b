// Sluice's own certificate authority for HTTPS interception (issue 6): creating the CA
// (`sluice ca init`) and minting leaf certificates for intercepted hosts on the fly.
//
// Contract
//  * init_ca() writes `ca.pem` (certificate, 0644) and `ca-key.pem` (private key, 0600, created
//    exclusively: an existing key is never overwritten unless `force`). The key is never
//    logged. ECDSA P-256; basic constraints CA:true (critical, path length 0), key usage
//    keyCertSign + cRLSign (critical), subject and authority key identifiers; 10 years.
//  * CertAuthority loads a CA (certificate + key, checked to match) and mints leaf certificates:
//    ECDSA P-256 with one key pair per process, subject CN = the host, subjectAltName DNS (or
//    IP for an address literal), key usage digitalSignature (critical), extended key usage
//    serverAuth, basic constraints CA:false (critical), key identifiers, valid from an hour ago
//    for kLeafValidity — what strict verifiers (OpenSSL, Go, rustls, Python's ssl) require.
//  * leaf() is thread-safe and caches certificates per host (bounded LRU, kCacheSize), so only a
//    host's first connection pays for minting; a cached certificate is re-minted once it is
//    within a day of expiry.
//  * Errors throw std::runtime_error with a message naming the file or the OpenSSL reason.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::intercept {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct CaFiles {
  std::string cert_path;  // <dir>/ca.pem
  std::string key_path;   // <dir>/ca-key.pem
};

// Creates a new CA in `dir` (created if missing). Throws if the key exists and !force.
CaFiles init_ca(const std::string& dir, const std::string& common_name, bool force);

// A minted leaf: its certificate and the process-wide leaf key (shared by every leaf).
struct Leaf {
  std::shared_ptr<X509> cert;
  EVP_PKEY* key = nullptr;  // owned by the CertAuthority
  std::chrono::system_clock::time_point not_after;
};

class CertAuthority {
 public:
  static constexpr std::chrono::hours kLeafValidity{24 * 7};
  static constexpr std::size_t kCacheSize = 1024;

  CertAuthority(const std::string& cert_path, const std::string& key_path);

  // The leaf for `host` (a DNS name or an IP literal), from the cache or minted now.
  Leaf leaf(std::string_view host);
  // Mints without the cache (benchmarks, tests).
  std::shared_ptr<X509> mint(std::string_view host) const;

  X509* ca_cert() const { return ca_cert_.get(); }
  std::size_t cached() const;
  std::uint64_t minted() const;

 private:
  X509Ptr ca_cert_;
  PkeyPtr ca_key_;
  PkeyPtr leaf_key_;

  mutable std::mutex mu_;
  struct Entry {
    Leaf leaf;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Entry> cache_;  // guarded by mu_
  std::list<std::string> lru_;                    // guarded by mu_; front = most recent
  std::uint64_t minted_ = 0;                      // guarded by mu_
};

}  // namespace sluice::intercept
