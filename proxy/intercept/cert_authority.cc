#include "proxy/intercept/cert_authority.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sluice::intercept {

namespace {

std::string openssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}

PkeyPtr new_p256_key() {
  PkeyPtr k(EVP_EC_gen("P-256"));
  if (!k) throw std::runtime_error(openssl_error("cannot generate an ECDSA P-256 key"));
  return k;
}

// A random, positive 128-bit serial (RFC 5280: at most 20 octets, unpredictable).
void set_random_serial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error(openssl_error("RAND_bytes"));
  bytes[0] &= 0x7f;
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(bytes, sizeof bytes, nullptr), BN_free);
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)))
    throw std::runtime_error(openssl_error("certificate serial"));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error(openssl_error(std::string("extension ") + value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void set_name(X509_NAME* name, const std::string& cn, const char* org) {
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void write_file(const std::string& path, const std::string& data, mode_t mode, bool exclusive) {
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (exclusive ? O_EXCL : 0);
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // whatever the umask
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(e));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

template <typename Writer>
std::string to_pem(Writer&& write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || !write(bio.get())) throw std::runtime_error(openssl_error("PEM encoding"));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

bool is_ip_literal(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

}  // namespace

CaFiles init_ca(const std::string& dir, const std::string& common_name, bool force) {
  std::error_code fec;
  std::filesystem::create_directories(dir, fec);
  if (fec) throw std::runtime_error("cannot create " + dir + ": " + fec.message());
  CaFiles files{dir + "/ca.pem", dir + "/ca-key.pem"};
  if (!force && std::filesystem::exists(files.key_path))
    throw std::runtime_error(files.key_path + " exists; pass --force to replace the CA");

  PkeyPtr key = new_p256_key();
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  set_random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 3650);
  set_name(X509_get_subject_name(cert.get()), common_name, "Sluice");
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    throw std::runtime_error(openssl_error("signing the CA certificate"));

  std::string key_pem = to_pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  std::string cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()) == 1; });
  if (force) std::filesystem::remove(files.key_path, fec);
  write_file(files.key_path, key_pem, 0600, /*exclusive=*/true);
  write_file(files.cert_path, cert_pem, 0644, /*exclusive=*/false);
  return files;
}

CertAuthority::CertAuthority(const std::string& cert_path, const std::string& key_path)
    : leaf_key_(new_p256_key()) {
  std::unique_ptr<FILE, decltype(&std::fclose)> cf(std::fopen(cert_path.c_str(), "r"), std::fclose);
  if (!cf) throw std::runtime_error("cannot read " + cert_path + ": " + std::strerror(errno));
  ca_cert_.reset(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
  if (!ca_cert_) throw std::runtime_error(openssl_error(cert_path + ": not a PEM certificate"));
  std::unique_ptr<FILE, decltype(&std::fclose)> kf(std::fopen(key_path.c_str(), "r"), std::fclose);
  if (!kf) throw std::runtime_error("cannot read " + key_path + ": " + std::strerror(errno));
  ca_key_.reset(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
  if (!ca_key_) throw std::runtime_error(openssl_error(key_path + ": not a PEM private key"));
  if (X509_check_private_key(ca_cert_.get(), ca_key_.get()) != 1)
    throw std::runtime_error(key_path + " is not the key of " + cert_path);
  if (X509_check_ca(ca_cert_.get()) == 0)
    throw std::runtime_error(cert_path + " is not a CA certificate");
}

std::shared_ptr<X509> CertAuthority::mint(std::string_view host) const {
  const std::string h(host);
  X509* raw = X509_new();
  std::shared_ptr<X509> cert(raw, X509_free);
  X509_set_version(raw, 2);
  set_random_serial(raw);
  X509_gmtime_adj(X509_getm_notBefore(raw), -3600);  // clock skew between hosts
  X509_gmtime_adj(X509_getm_notAfter(raw),
                  static_cast<long>(std::chrono::seconds(kLeafValidity).count()));
  set_name(X509_get_subject_name(raw), h, "Sluice interception");
  X509_set_issuer_name(raw, X509_get_subject_name(ca_cert_.get()));
  X509_set_pubkey(raw, leaf_key_.get());
  const std::string san = (is_ip_literal(h) ? "IP:" : "DNS:") + h;
  add_ext(raw, ca_cert_.get(), NID_subject_alt_name, san.c_str());
  add_ext(raw, ca_cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(raw, ca_cert_.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(raw, ca_cert_.get(), NID_ext_key_usage, "serverAuth");
  add_ext(raw, ca_cert_.get(), NID_subject_key_identifier, "hash");
  add_ext(raw, ca_cert_.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(raw, ca_key_.get(), EVP_sha256()) == 0)
    throw std::runtime_error(openssl_error("signing the certificate for " + h));
  return cert;
}

Leaf CertAuthority::leaf(std::string_view host) {
  const auto now = std::chrono::system_clock::now();
  std::string key(host);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.leaf.not_after - now > std::chrono::hours(24)) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.leaf;
    }
  }
  // Minted outside the lock: two first connections to one host may both mint (harmless).
  Leaf fresh{mint(host), leaf_key_.get(), now + kLeafValidity - std::chrono::hours(1)};
  std::lock_guard lock(mu_);
  ++minted_;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.leaf = fresh;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return fresh;
  }
  if (cache_.size() >= kCacheSize) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  cache_.emplace(std::move(key), Entry{fresh, lru_.begin()});
  return fresh;
}

std::size_t CertAuthority::cached() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

std::uint64_t CertAuthority::minted() const {
  std::lock_guard lock(mu_);
  return minted_;
}

}  // namespace sluice::intercept
