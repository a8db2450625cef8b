// The Redis client's I/O. All Asio templates of the limits code are instantiated here and in
// redis_store.cc only; Asio itself is compiled once in sluice_asio.
#include "filters/limits_store/resp_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include "filters/limits_store/resp_reader.h"

namespace sluice::redis {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::atomic<std::uint64_t> g_connects{0}, g_connect_failures{0}, g_timeouts{0}, g_broken{0},
    g_commands{0}, g_writes{0}, g_protocol_errors{0};

// Pipelined commands beyond this many unanswered ones fail at once instead of queueing.
constexpr std::size_t kMaxPending = 65536;

struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool done = false;       // result is set (a reply, or a transport failure)
  bool abandoned = false;  // the caller gave up (deadline); the reply will be dropped
  bool internal = false;   // AUTH / SELECT sent on connect
  RespResult result;
};

class Connection {
 public:
  Connection(asio::any_io_executor ex, Endpoint ep)
      : ex_(std::move(ex)), ep_(std::move(ep)), socket_(ex_) {}

  // `encoded`: one or more commands' RESP bytes; exactly one reply is expected.
  asio::awaitable<RespResult> command(std::string_view encoded, bool deferred) {
    g_commands.fetch_add(1, std::memory_order_relaxed);
    if (state_ == State::kIdle && Clock::now() < down_until_)
      co_return RespResult{false, "unavailable (" + last_error_ + ")", {}};
    if (pending_.size() >= kMaxPending) co_return RespResult{false, "too many pending commands", {}};
    auto p = std::make_shared<Pending>(ex_);
    p->timer.expires_after(ep_.command_timeout);
    if (deferred) {
      outbuf_.append(encoded);
      pending_.push_back(p);
      ++deferred_tail_;
      deferred_tail_bytes_ += encoded.size();
    } else {
      // Ahead of the deferred commands not written yet: Redis runs an admission before the
      // settlements that ride in the same write, instead of after them (their replies come
      // back in the order written).
      outbuf_.insert(outbuf_.size() - deferred_tail_bytes_, encoded);
      pending_.insert(pending_.end() - static_cast<std::ptrdiff_t>(deferred_tail_), p);
    }
    if (state_ == State::kIdle) {
      state_ = State::kConnecting;
      asio::co_spawn(ex_, connect(++gen_), asio::detached);
    } else if (state_ == State::kReady && !writing_) {
      if (deferred) {
        flush_later();
      } else {
        start_writer();
      }
    }
    co_await p->timer.async_wait(kTuple);
    if (!p->done) {
      // A Redis that does not answer in time is treated as gone: the connection is closed
      // (failing what else waits on it) and calls fail fast for the backoff period.
      p->abandoned = true;
      g_timeouts.fetch_add(1, std::memory_order_relaxed);
      close("timeout after " + std::to_string(ep_.command_timeout.count()) + "ms");
      co_return RespResult{false, "timeout", {}};
    }
    co_return std::move(p->result);
  }

  void close(const std::string& why) {
    ++gen_;
    error_code ec;
    socket_.close(ec);
    if (state_ == State::kReady) g_broken.fetch_add(1, std::memory_order_relaxed);
    state_ = State::kIdle;
    writing_ = false;
    last_error_ = why;
    down_until_ = Clock::now() + ep_.reconnect_backoff;
    outbuf_.clear();
    deferred_tail_ = deferred_tail_bytes_ = 0;
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& p : pending) {
      if (p->done) continue;
      p->done = true;
      p->result = RespResult{false, why, {}};
      p->timer.cancel();
    }
  }

 private:
  enum class State { kIdle, kConnecting, kReady };

  asio::awaitable<void> connect(std::uint64_t gen) {
    error_code ec;
    auto addr = asio::ip::make_address(ep_.host == "localhost" ? "127.0.0.1" : ep_.host, ec);
    if (ec) {
      g_connect_failures.fetch_add(1, std::memory_order_relaxed);
      close("bad address " + ep_.host);
      co_return;
    }
    asio::steady_timer deadline(ex_);
    deadline.expires_after(ep_.connect_timeout);
    deadline.async_wait([this, gen](error_code e) {
      if (!e && gen == gen_ && state_ == State::kConnecting) {
        error_code ignored;
        socket_.close(ignored);
      }
    });
    auto [cec] = co_await socket_.async_connect(tcp::endpoint(addr, ep_.port), kTuple);
    deadline.cancel();
    if (gen != gen_) co_return;
    if (cec) {
      g_connect_failures.fetch_add(1, std::memory_order_relaxed);
      close("connect " + ep_.name() + ": " + cec.message());
      co_return;
    }
    g_connects.fetch_add(1, std::memory_order_relaxed);
    socket_.set_option(tcp::no_delay(true), ec);
    // AUTH and SELECT go first, ahead of the commands that waited for the connection.
    std::string pre;
    std::vector<std::vector<std::string>> setup;
    if (!ep_.password.empty()) {
      if (!ep_.username.empty()) setup.push_back({"AUTH", ep_.username, ep_.password});
      else setup.push_back({"AUTH", ep_.password});
    }
    if (ep_.database != 0) setup.push_back({"SELECT", std::to_string(ep_.database)});
    for (auto it = setup.rbegin(); it != setup.rend(); ++it) {
      auto p = std::make_shared<Pending>(ex_);
      p->internal = true;
      pending_.push_front(p);
    }
    for (const auto& s : setup) encode_command(s, pre);
    outbuf_.insert(0, pre);
    state_ = State::kReady;
    asio::co_spawn(ex_, reader(gen), asio::detached);
    if (!writing_ && !outbuf_.empty()) start_writer();
  }

  // Writes what deferred commands left in outbuf_ after kDeferWindow, unless an urgent
  // command's writer takes it first. One timer per connection, armed at most once a window.
  void flush_later() {
    if (flush_armed_) return;
    flush_armed_ = true;
    flush_timer_.expires_after(kDeferWindow);
    flush_timer_.async_wait([this, gen = gen_](const error_code& ec) {
      flush_armed_ = false;
      if (ec || gen != gen_) return;
      if (state_ == State::kReady && !writing_ && !outbuf_.empty())
        start_writer();
    });
  }

  // writing_ is set here, not when the coroutine starts: a command queued before it runs
  // must not start a second writer.
  void start_writer() {
    writing_ = true;
    asio::co_spawn(ex_, writer(gen_), asio::detached);
  }

  asio::awaitable<void> writer(std::uint64_t gen) {
    while (!outbuf_.empty()) {
      std::string buf;  // owned by this frame: a closed connection's write may still complete
      buf.swap(outbuf_);
      deferred_tail_ = deferred_tail_bytes_ = 0;  // written: nothing goes ahead of them now
      g_writes.fetch_add(1, std::memory_order_relaxed);
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(buf), kTuple);
      if (gen != gen_) co_return;  // closed meanwhile; close() reset writing_
      if (ec) {
        close("write: " + ec.message());
        co_return;
      }
    }
    writing_ = false;
  }

  asio::awaitable<void> reader(std::uint64_t gen) {
    constexpr std::size_t kRead = 16 * 1024;
    RespReader replies;  // this connection's: its bytes end with it
    for (;;) {
      char* room = replies.prepare(kRead);
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(room, kRead), kTuple);
      if (gen != gen_) co_return;
      if (ec) {
        close(ec == asio::error::eof ? "closed by server" : "read: " + ec.message());
        co_return;
      }
      replies.commit(n);
      for (;;) {
        RespValue r;
        RespReader::Status st = replies.next(r);
        if (st == RespReader::Status::kNeedMore) break;
        if (st == RespReader::Status::kError) {
          g_protocol_errors.fetch_add(1, std::memory_order_relaxed);
          close(replies.error());
          co_return;
        }
        if (!deliver(std::move(r))) {
          close("unexpected reply");
          co_return;
        }
        if (gen != gen_) co_return;
      }
    }
  }

  bool deliver(RespValue&& r) {
    if (pending_.empty()) return false;
    auto p = std::move(pending_.front());
    pending_.pop_front();
    if (p->internal) {
      if (r.is_error()) close("setup failed: " + r.str);
      return true;
    }
    if (p->abandoned || p->done) return true;
    p->result.ok = true;
    p->result.value = std::move(r);
    p->done = true;
    p->timer.cancel();
    return true;
  }

  asio::any_io_executor ex_;
  Endpoint ep_;
  tcp::socket socket_;
  State state_ = State::kIdle;
  std::uint64_t gen_ = 0;
  // Commands in the order written (or to be written); replies come back in that order.
  std::deque<std::shared_ptr<Pending>> pending_;
  std::string outbuf_;  // not written yet
  // The deferred commands at the end of outbuf_ (and pending_), not written yet: an urgent
  // command goes in front of them.
  std::size_t deferred_tail_ = 0, deferred_tail_bytes_ = 0;
  bool writing_ = false;
  asio::steady_timer flush_timer_{ex_};
  bool flush_armed_ = false;
  Clock::time_point down_until_{};
  std::string last_error_;
};

// One set of connections per io_context, closed when that context shuts down.
class ConnectionService : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  explicit ConnectionService(asio::execution_context& ctx) : service(ctx) {}
  // Connections go here, while every service still exists: their socket and timers belong to
  // services created after this one, which are destroyed before it.
  void shutdown() override {
    for (auto& [e, c] : conns_) c->close("shutdown");
    conns_.clear();
  }
  // A linear scan without allocation: a worker talks to one or two Redis endpoints.
  Connection& get(const asio::any_io_executor& ex, const Endpoint& ep) {
    for (auto& [e, c] : conns_) {
      if (e.port == ep.port && e.database == ep.database && e.host == ep.host &&
          e.username == ep.username && e.password == ep.password)
        return *c;
    }
    conns_.emplace_back(ep, std::make_unique<Connection>(ex, ep));
    return *conns_.back().second;
  }

 private:
  std::vector<std::pair<Endpoint, std::unique_ptr<Connection>>> conns_;
};
asio::execution_context::id ConnectionService::id;

}  // namespace

void encode_command(const std::vector<std::string>& args, std::string& out) {
  RespArgs a;
  for (const auto& s : args) a.add(s);
  out += '*';
  out += std::to_string(a.count());
  out += "\r\n";
  out += a.bytes();
}

// Each argument is written straight into spare room at the end of the buffer (appending a
// few pieces per argument cost ~300 instructions each; the store writes ~25 per call).
char* RespArgs::grow(std::size_t n) {
  if (len_ + n > buf_.size()) buf_.resize(std::max(2 * buf_.size(), len_ + n + 256));
  char* at = buf_.data() + len_;
  len_ += n;
  return at;
}

namespace {

// Decimal digits of v (1 for 0).
int decimal_length(std::uint64_t v) {
  int n = 1;
  for (; v >= 10000; v /= 10000) n += 4;
  return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

// Writes v's `len` digits ending at out + len, two at a time (std::to_chars measured ~95
// instructions for a 13-digit millisecond time, with its own length pass).
void write_decimal(char* out, std::uint64_t v, int len) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* p = out + len;
  while (v >= 100) {
    const auto pair = static_cast<std::size_t>(v % 100) * 2;
    v /= 100;
    p -= 2;
    p[0] = kPairs[pair];
    p[1] = kPairs[pair + 1];
  }
  if (v >= 10) {
    p -= 2;
    p[0] = kPairs[v * 2];
    p[1] = kPairs[v * 2 + 1];
  } else {
    *--p = static_cast<char>('0' + v);
  }
}

std::uint64_t magnitude(std::int64_t v) {
  return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

}  // namespace

void append_decimal(std::string& out, std::int64_t v) {
  const std::uint64_t m = magnitude(v);
  const int l = decimal_length(m);
  char buf[24];
  char* p = buf;
  if (v < 0) *p++ = '-';
  write_decimal(p, m, l);
  out.append(buf, static_cast<std::size_t>(p - buf) + static_cast<std::size_t>(l));
}

void RespArgs::add(std::initializer_list<RespPart> parts) {
  std::size_t n = 0;
  int lens[16];  // digits of the first 16 numeric parts (more are measured again)
  std::size_t i = 0;
  for (const auto& p : parts) {
    if (!p.is_number) {
      n += p.text.size();
    } else {
      const int l = decimal_length(magnitude(p.number));
      if (i < 16) lens[i] = l;
      n += static_cast<std::size_t>(l) + (p.number < 0 ? 1 : 0);
    }
    ++i;
  }
  const int nl = decimal_length(n);
  char* out = grow(1 + static_cast<std::size_t>(nl) + 2 + n + 2);
  *out++ = '$';
  write_decimal(out, n, nl);
  out += nl;
  *out++ = '\r';
  *out++ = '\n';
  i = 0;
  for (const auto& p : parts) {
    if (!p.is_number) {
      if (!p.text.empty()) std::memcpy(out, p.text.data(), p.text.size());
      out += p.text.size();
    } else {
      const std::uint64_t m = magnitude(p.number);
      const int l = i < 16 ? lens[i] : decimal_length(m);
      if (p.number < 0) *out++ = '-';
      write_decimal(out, m, l);
      out += l;
    }
    ++i;
  }
  out[0] = '\r';
  out[1] = '\n';
  ++count_;
}

asio::awaitable<RespResult> resp_command_encoded(asio::any_io_executor ex, const Endpoint& ep,
                                                 std::string encoded, bool deferred) {
  auto& ctx = asio::query(ex, asio::execution::context);
  auto& conn = asio::use_service<ConnectionService>(ctx).get(ex, ep);
  co_return co_await conn.command(encoded, deferred);
}

asio::awaitable<RespResult> resp_command(asio::any_io_executor ex, const Endpoint& ep,
                                         std::vector<std::string> args) {
  std::string encoded;
  encode_command(args, encoded);
  co_return co_await resp_command_encoded(std::move(ex), ep, std::move(encoded));
}

RespClientStats resp_client_stats() {
  RespClientStats s;
  s.connects = g_connects.load();
  s.connect_failures = g_connect_failures.load();
  s.timeouts = g_timeouts.load();
  s.broken = g_broken.load();
  s.commands = g_commands.load();
  s.writes = g_writes.load();
  s.protocol_errors = g_protocol_errors.load();
  return s;
}

}  // namespace sluice::redis
