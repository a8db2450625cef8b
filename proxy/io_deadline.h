// Coarse I/O timeouts for client and upstream connections.
//
// Beast's tcp_stream arms a timer for every read and write: a timer-heap insert and removal
// under the reactor's lock plus handler bookkeeping, which on a proxy's short operations
// cost more than the I/O itself. Instead each connection owns one IoDeadline, a plain time
// point; the worker's ticker calls DeadlineList::tick() every DeadlineList::kTick and cancels
// the pending I/O of every connection whose deadline has passed. The code awaiting that I/O
// passes its error through IoDeadline::check(), which reports beast::error::timeout.
//
// Contract
//  * Everything runs on the owning worker's thread: the list, the deadlines and the sockets.
//  * A timeout fires between its deadline and one kTick later.
//  * An IoDeadline registers itself with its list on construction and leaves it on
//    destruction; the socket it cancels must outlive it (it is a member of the same object).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>

namespace sluice {

class DeadlineList;

class IoDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  IoDeadline(DeadlineList& list, boost::asio::ip::tcp::socket& socket);
  ~IoDeadline();
  IoDeadline(const IoDeadline&) = delete;
  IoDeadline& operator=(const IoDeadline&) = delete;

  void expires_after(Clock::duration d) { expires_at(Clock::now() + d); }
  void expires_at(Clock::time_point t) {
    at_ = t;
    fired_ = false;
  }
  void expires_never() { expires_at(Clock::time_point::max()); }

  // `ec` from an operation awaited under this deadline: operation_aborted becomes
  // beast::error::timeout when the deadline is what aborted it.
  boost::system::error_code check(const boost::system::error_code& ec) const;
  // check(), then disarm: called when the operation completed, so that a deadline cannot
  // fire later on other I/O of the socket (e.g. a watch for the peer closing).
  boost::system::error_code done(const boost::system::error_code& ec) {
    boost::system::error_code r = check(ec);
    expires_never();
    return r;
  }
  bool fired() const { return fired_; }

 private:
  friend class DeadlineList;
  DeadlineList& list_;
  boost::asio::ip::tcp::socket& socket_;
  Clock::time_point at_ = Clock::time_point::max();
  bool fired_ = false;
  IoDeadline* prev_ = nullptr;
  IoDeadline* next_ = nullptr;
};

class DeadlineList {
 public:
  static constexpr std::chrono::milliseconds kTick{100};

  DeadlineList() = default;
  DeadlineList(const DeadlineList&) = delete;
  DeadlineList& operator=(const DeadlineList&) = delete;

  // Cancels the I/O of every deadline at or before `now`; returns how many fired.
  std::size_t tick(IoDeadline::Clock::time_point now);
  std::size_t size() const { return size_; }

 private:
  friend class IoDeadline;
  void add(IoDeadline* d);
  void remove(IoDeadline* d);

  IoDeadline* head_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace sluice
