#include "sinks/event_id.h"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>

namespace sluice {
namespace {

// Bumped in the child after fork(): a child must not replay its parent's random stream, or
// both processes would mint the same ids.
std::atomic<std::uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256** (Blackman and Vigna): fast, 256-bit state, passes BigCrush.
struct Xoshiro256 {
  std::uint64_t s[4];
  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

struct ThreadRng {
  Xoshiro256 rng{};
  std::uint64_t generation = ~std::uint64_t{0};  // never a live generation: forces the first seed
};
thread_local ThreadRng t_rng;

void seed(Xoshiro256& rng) {
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(rng.s);
  while (got < sizeof rng.s) {
    const ssize_t n = getrandom(bytes + got, sizeof rng.s - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof rng.s) {
    // getrandom unavailable (old kernel, seccomp): std::random_device has its own fallbacks.
    std::random_device rd;
    for (auto& word : rng.s) word = (std::uint64_t{rd()} << 32) ^ rd();
  }
  if ((rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]) == 0) rng.s[0] = 0x9E3779B97F4A7C15ull;
}

std::uint64_t next_random() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, on_fork_child);
    return true;
  }();
  (void)registered;
  const std::uint64_t gen = g_fork_generation.load(std::memory_order_relaxed);
  if (t_rng.generation != gen) {
    seed(t_rng.rng);
    t_rng.generation = gen;
  }
  return t_rng.rng.next();
}

constexpr char kHex[] = "0123456789abcdef";

// unix_ms: 48 bits of milliseconds; sub_ms: 12 bits of fraction of a millisecond.
void format_uuid_v7(std::uint64_t unix_ms, std::uint32_t sub_ms, char* out) {
  const std::uint64_t rand_b = next_random();
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(unix_ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | ((sub_ms >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(sub_ms);
  b[8] = static_cast<unsigned char>(0x80 | ((rand_b >> 56) & 0x3F));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(rand_b >> (8 * (15 - i)));
  char* o = out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = kHex[b[i] >> 4];
    *o++ = kHex[b[i] & 0x0F];
  }
}

constexpr std::int64_t kMaxUnixMs = (std::int64_t{1} << 48) - 1;

}  // namespace

void new_uuid_v7(std::int64_t unix_us, char* out) {
  std::int64_t ms = unix_us / 1000;
  std::int64_t frac_us = unix_us % 1000;
  if (unix_us < 0) {
    ms = 0;
    frac_us = 0;
  } else if (ms > kMaxUnixMs) {
    ms = kMaxUnixMs;
    frac_us = 999;
  }
  format_uuid_v7(static_cast<std::uint64_t>(ms), static_cast<std::uint32_t>(frac_us * 4096 / 1000),
                 out);
}

void new_uuid_v7(char* out) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  if (ns < 0) {
    format_uuid_v7(0, 0, out);
    return;
  }
  format_uuid_v7(static_cast<std::uint64_t>(ns / 1'000'000),
                 static_cast<std::uint32_t>((ns % 1'000'000) * 4096 / 1'000'000), out);
}

std::string new_event_id() {
  std::string id(kUuidLength, '\0');
  new_uuid_v7(id.data());
  return id;
}

std::string new_event_id(std::int64_t unix_us) {
  std::string id(kUuidLength, '\0');
  new_uuid_v7(unix_us, id.data());
  return id;
}

}  // namespace sluice
