// HTTPS interception: minting a leaf certificate for a new host (target ≤ 1 ms) and serving
// one from the cache (every later connection to that host).
//
// Run: intercept_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <filesystem>
#include <string>

#include "proxy/intercept/cert_authority.h"

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

}  // namespace
}  // namespace sluice::intercept

BENCHMARK_MAIN();
