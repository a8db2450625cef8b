// A small asynchronous Redis client: RESP2 over one TCP connection per event loop per
// endpoint, pipelined (commands are written as they come; replies are matched in order),
// on Boost.Asio coroutines, replies parsed by resp_reader.h. (Debian's hiredis has no Asio
// adapter, its parser cost ~400 instructions per integer, and Boost.Redis needs Boost 1.84.)
//
// Contract:
//  * resp_command() never blocks a thread; it must be awaited on the io_context whose
//    executor it is given. Every command has a deadline (command_timeout); a reply that comes
//    after its deadline is read and dropped, so the pipeline stays in order.
//  * A failed connect or a broken connection fails every command waiting on it; new commands
//    then fail at once (no connect attempt) for `reconnect_backoff`, so an unreachable Redis
//    costs a call one connect timeout at most, once per backoff period per thread.
//  * Connections belong to an execution_context service: they are closed when the io_context
//    is destroyed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sluice::redis {

struct Endpoint {
  std::string host = "127.0.0.1";  // an IPv4/IPv6 literal or "localhost"
  std::uint16_t port = 6379;
  std::string password;            // AUTH when set
  std::string username;            // AUTH user password (ACL) when both set
  int database = 0;                // SELECT when not 0
  std::chrono::milliseconds connect_timeout{200};
  std::chrono::milliseconds command_timeout{200};
  std::chrono::milliseconds reconnect_backoff{500};

  std::string name() const { return host + ":" + std::to_string(port) + "/" + std::to_string(database); }
};

struct RespValue {
  enum class Type : std::uint8_t { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // string, status or error text
  std::vector<RespValue> elements;

  bool is_error() const { return type == Type::kError; }
};

struct RespResult {
  bool ok = false;      // a reply arrived (it may still be a Redis error reply)
  std::string error;    // transport error: "timeout", "connect: ...", "closed", ...
  RespValue value;
};

// Encodes one command as a RESP array of bulk strings.
void encode_command(const std::vector<std::string>& args, std::string& out);

// Appends v in decimal, as RespArgs writes integer parts.
void append_decimal(std::string& out, std::int64_t v);

// One piece of an argument: text, or an integer written in decimal.
struct RespPart {
  RespPart(std::string_view s) : text(s) {}  // NOLINT(google-explicit-constructor)
  RespPart(const char* s) : text(s) {}       // NOLINT(google-explicit-constructor)
  RespPart(const std::string& s) : text(s) {}  // NOLINT(google-explicit-constructor)
  template <typename I>
    requires std::is_integral_v<I>
  RespPart(I v) : number(static_cast<std::int64_t>(v)), is_number(true) {}  // NOLINT
  std::string_view text;
  std::int64_t number = 0;
  bool is_number = false;
};

// A command's arguments as RESP bulk strings, appended as they are given: no std::string per
// argument, integers formatted in place (the limits store writes ~25 arguments and ~35
// integers per call).
class RespArgs {
 public:
  void reserve(std::size_t bytes) {
    if (bytes > buf_.size()) buf_.resize(bytes);
  }
  void add(std::string_view v) { add({RespPart(v)}); }
  void add(std::initializer_list<RespPart> parts);  // one argument, concatenated
  void add_int(std::int64_t v) { add({RespPart(v)}); }
  std::size_t count() const { return count_; }
  std::string_view bytes() const { return {buf_.data(), len_}; }
  std::string take() {
    buf_.resize(len_);
    len_ = 0;
    count_ = 0;
    return std::move(buf_);
  }

 private:
  char* grow(std::size_t n);  // n more bytes at the end; returns where they go

  std::string buf_;  // bytes beyond len_ are spare room, written before they count
  std::size_t len_ = 0;
  std::size_t count_ = 0;
};

// Sends one command on the calling thread's connection to `ep` and awaits its reply.
boost::asio::awaitable<RespResult> resp_command(boost::asio::any_io_executor ex, const Endpoint& ep,
                                                std::vector<std::string> args);

// The same with the command already RESP-encoded (one command, one reply).
//
// `deferred`: the command is not urgent (a settlement nobody waits for): it is written with
// the next urgent command, or after kDeferWindow when none comes. Under load a call's
// settlement then shares a write(2) and the read of the replies with another call's
// admission instead of costing a round trip of its own. In that write the urgent command goes
// first, so Redis runs it before the deferred ones (which were not sent yet, so nothing was
// promised about their order relative to it).
inline constexpr std::chrono::milliseconds kDeferWindow{1};
boost::asio::awaitable<RespResult> resp_command_encoded(boost::asio::any_io_executor ex,
                                                        const Endpoint& ep, std::string encoded,
                                                        bool deferred = false);

// Per-process counters of the client (all threads): connects, connect failures, timeouts,
// broken connections, protocol errors.
struct RespClientStats {
  std::uint64_t connects = 0, connect_failures = 0, timeouts = 0, broken = 0, commands = 0;
  std::uint64_t writes = 0;  // write(2) batches: pipelined and deferred commands share them
  std::uint64_t protocol_errors = 0;  // replies that were not RESP2 (the connection is closed)
};
RespClientStats resp_client_stats();

}  // namespace sluice::redis
