// HTTPS interception: minting a leaf certificate for a new host (target ≤ 1 ms) and serving
// one from the cache (every later connection to that host); reading the SNI from a ClientHello
// (transparent mode, once per connection); a TLS handshake with a minted leaf, full and
// resumed (in memory, client and server on this thread, so both sides' CPU is in the figure).
//
// Run: intercept_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <filesystem>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <vector>

#include "proxy/intercept/cert_authority.h"
#include "proxy/intercept/client_hello.h"

namespace sluice::intercept {
namespace {

struct Ca {
  Ca() : dir("/tmp/sluice-intercept-bench-" + std::to_string(::getpid())) {
    files = init_ca(dir, "bench CA", true);
    ca = std::make_unique<CertAuthority>(files.cert_path, files.key_path);
  }
  ~Ca() { std::filesystem::remove_all(dir); }
  std::string dir;
  CaFiles files;
  std::unique_ptr<CertAuthority> ca;
};

Ca& shared_ca() {
  static Ca ca;
  return ca;
}

void BM_MintLeaf(benchmark::State& state) {
  CertAuthority& ca = *shared_ca().ca;
  std::size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(ca.mint("host" + std::to_string(i++) + ".example.com"));
}
BENCHMARK(BM_MintLeaf)->Unit(benchmark::kMicrosecond);

void BM_LeafFromCache(benchmark::State& state) {
  CertAuthority& ca = *shared_ca().ca;
  ca.leaf("api.openai.com");
  for (auto _ : state) benchmark::DoNotOptimize(ca.leaf("api.openai.com"));
}
BENCHMARK(BM_LeafFromCache)->Unit(benchmark::kMicrosecond);

// A client's first flight, as transparent mode reads it.
std::vector<std::uint8_t> client_hello(const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_tlsext_host_name(ssl, sni);
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);
  std::vector<std::uint8_t> b(BIO_ctrl_pending(out));
  BIO_read(out, b.data(), static_cast<int>(b.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return b;
}

void BM_ParseClientHelloSni(benchmark::State& state) {
  auto hello = client_hello("api.openai.com");
  for (auto _ : state) {
    auto info = parse_client_hello({hello.data(), hello.size()});
    if (info.status != HelloStatus::kOk) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(info);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * hello.size()));
}
BENCHMARK(BM_ParseClientHelloSni);

// Client and server SSL objects joined by two memory BIOs; drives the handshake to the end and
// lets the client read the server's session tickets (TLS 1.3 sends them after the handshake).
struct Pair {
  SSL* client;
  SSL* server;
  Pair(SSL_CTX* cctx, SSL_CTX* sctx, SSL_SESSION* resume) {
    client = SSL_new(cctx);
    server = SSL_new(sctx);
    BIO *c2s_w, *c2s_r, *s2c_w, *s2c_r;
    BIO_new_bio_pair(&c2s_w, 0, &c2s_r, 0);
    BIO_new_bio_pair(&s2c_w, 0, &s2c_r, 0);
    SSL_set_bio(client, s2c_r, c2s_w);
    SSL_set_bio(server, c2s_r, s2c_w);
    SSL_set_tlsext_host_name(client, "api.openai.com");
    SSL_set1_host(client, "api.openai.com");
    if (resume != nullptr) SSL_set_session(client, resume);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
  }
  ~Pair() {
    SSL_free(client);
    SSL_free(server);
  }
  bool handshake() {
    for (int i = 0; i < 16; ++i) {
      int c = SSL_do_handshake(client);
      int s = SSL_do_handshake(server);
      if (c == 1 && s == 1) {
        char b;
        SSL_read(client, &b, 1);  // takes in the session tickets
        return true;
      }
    }
    return false;
  }
};

struct TlsFixture {
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  TlsFixture() {
    CertAuthority& ca = *shared_ca().ca;
    Leaf leaf = ca.leaf("api.openai.com");
    SSL_CTX_use_certificate(sctx, leaf.cert.get());
    SSL_CTX_use_PrivateKey(sctx, leaf.key);
    static const unsigned char kCtx[] = "bench";
    SSL_CTX_set_session_id_context(sctx, kCtx, sizeof kCtx - 1);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca.ca_cert());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT);
  }
  ~TlsFixture() {
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
  }
};

void BM_TlsHandshakeFull(benchmark::State& state) {
  TlsFixture f;
  for (auto _ : state) {
    Pair p(f.cctx, f.sctx, nullptr);
    if (!p.handshake() || SSL_session_reused(p.client)) state.SkipWithError("handshake failed");
  }
}
BENCHMARK(BM_TlsHandshakeFull)->Unit(benchmark::kMicrosecond);

void BM_TlsHandshakeResumed(benchmark::State& state) {
  TlsFixture f;
  Pair first(f.cctx, f.sctx, nullptr);
  if (!first.handshake()) state.SkipWithError("first handshake failed");
  SSL_SESSION* session = SSL_get1_session(first.client);
  for (auto _ : state) {
    // A copy per connection: a TLS 1.3 client marks a ticket it has used as spent.
    SSL_SESSION* copy = SSL_SESSION_dup(session);
    Pair p(f.cctx, f.sctx, copy);
    SSL_SESSION_free(copy);
    if (!p.handshake()) state.SkipWithError("handshake failed");
    if (!SSL_session_reused(p.client)) {
      state.SkipWithError("not resumed");
      break;
    }
  }
  SSL_SESSION_free(session);
}
BENCHMARK(BM_TlsHandshakeResumed)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::intercept

BENCHMARK_MAIN();
