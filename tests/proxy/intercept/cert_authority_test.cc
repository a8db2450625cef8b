// The interception CA: files and permissions, leaves that a strict verifier accepts for the
// right host only, the extensions browsers and TLS libraries insist on, the cache.
#include "proxy/intercept/cert_authority.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace sluice::intercept {
namespace {

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sluice-ca-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    files_ = init_ca(dir_, "Sluice test CA", false);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // X509_verify_cert against the CA alone, with host-name checking as clients do.
  static int verify(CertAuthority& ca, X509* leaf, const std::string& host) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca.ca_cert());
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (host.find_first_not_of("0123456789.") == std::string::npos)
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    int ok = X509_verify_cert(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
  }

  std::string dir_;
  CaFiles files_;
};

TEST_F(CaTest, KeyIsPrivateAndNeverOverwritten) {
  struct stat st {};
  ASSERT_EQ(::stat(files_.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(files_.cert_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::ifstream k(files_.key_path);
  std::string first;
  std::getline(k, first);
  EXPECT_EQ(first, "-----BEGIN PRIVATE KEY-----");
  EXPECT_THROW(init_ca(dir_, "again", false), std::runtime_error);
  EXPECT_NO_THROW(init_ca(dir_, "again", true));
}

TEST_F(CaTest, CaCertificateIsACa) {
  CertAuthority ca(files_.cert_path, files_.key_path);
  EXPECT_EQ(X509_check_ca(ca.ca_cert()), 1);
  EXPECT_TRUE(X509_get_key_usage(ca.ca_cert()) & KU_KEY_CERT_SIGN);
}

TEST_F(CaTest, LeafVerifiesForItsHostOnly) {
  CertAuthority ca(files_.cert_path, files_.key_path);
  Leaf l = ca.leaf("api.openai.com");
  EXPECT_EQ(verify(ca, l.cert.get(), "api.openai.com"), X509_V_OK);
  EXPECT_EQ(verify(ca, l.cert.get(), "api.anthropic.com"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(X509_check_private_key(l.cert.get(), l.key), 1);
}

TEST_F(CaTest, LeafForAnAddressHasAnIpSan) {
  CertAuthority ca(files_.cert_path, files_.key_path);
  Leaf l = ca.leaf("127.0.0.1");
  EXPECT_EQ(verify(ca, l.cert.get(), "127.0.0.1"), X509_V_OK);
  EXPECT_EQ(X509_check_ip_asc(l.cert.get(), "127.0.0.1", 0), 1);
  // The address is an iPAddress entry, not a dNSName (which strict clients would reject).
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(l.cert.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 1);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 0)->type, GEN_IPADD);
  GENERAL_NAMES_free(names);
}

TEST_F(CaTest, LeafHasTheExtensionsStrictVerifiersWant) {
  CertAuthority ca(files_.cert_path, files_.key_path);
  X509* c = ca.leaf("api.anthropic.com").cert.get();
  EXPECT_EQ(X509_get_version(c), 2);
  EXPECT_EQ(X509_check_ca(c), 0);  // CA:false
  EXPECT_TRUE(X509_get_extension_flags(c) & EXFLAG_BCONS);
  EXPECT_EQ(X509_get_key_usage(c), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_TRUE(X509_get_extended_key_usage(c) & XKU_SSL_SERVER);
  EXPECT_NE(X509_get0_subject_key_id(c), nullptr);
  EXPECT_NE(X509_get0_authority_key_id(c), nullptr);
  EXPECT_EQ(
      ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c), X509_get0_subject_key_id(ca.ca_cert())),
      0);
  // Short validity: a week from now, not years.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(c)), 1);
  EXPECT_GE(days, 6);
  EXPECT_LE(days, 7);
}

TEST_F(CaTest, CacheMintsOncePerHostAndIsBounded) {
  CertAuthority ca(files_.cert_path, files_.key_path);
  Leaf a = ca.leaf("api.openai.com");
  Leaf b = ca.leaf("api.openai.com");
  EXPECT_EQ(a.cert.get(), b.cert.get());
  EXPECT_EQ(ca.minted(), 1u);
  for (std::size_t i = 0; i < CertAuthority::kCacheSize + 5; ++i)
    ca.leaf("h" + std::to_string(i) + ".test");
  EXPECT_EQ(ca.cached(), CertAuthority::kCacheSize);
}

TEST_F(CaTest, MismatchedOrMissingFilesAreRefused) {
  CaFiles other = init_ca(dir_ + "/other", "other", false);
  EXPECT_THROW(CertAuthority(files_.cert_path, other.key_path), std::runtime_error);
  EXPECT_THROW(CertAuthority(dir_ + "/missing.pem", files_.key_path), std::runtime_error);
  std::ofstream(dir_ + "/garbage.pem") << "not a certificate\n";
  EXPECT_THROW(CertAuthority(dir_ + "/garbage.pem", files_.key_path), std::runtime_error);
}

}  // namespace
}  // namespace sluice::intercept
