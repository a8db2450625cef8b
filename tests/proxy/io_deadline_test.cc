// IoDeadline / DeadlineList: the coarse timeouts that replace Beast's per-operation timers.
#include "proxy/io_deadline.h"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>
#include <memory>

namespace sluice {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A connected loopback socket pair on `io`.
struct Pair {
  explicit Pair(asio::io_context& io) : a(io), b(io) {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    acc.accept(b);
  }
  tcp::socket a, b;
};

TEST(IoDeadline, RegistersAndUnregisters) {
  asio::io_context io;
  Pair p(io);
  DeadlineList list;
  {
    IoDeadline d1(list, p.a);
    EXPECT_EQ(list.size(), 1u);
    {
      IoDeadline d2(list, p.b);
      EXPECT_EQ(list.size(), 2u);
    }
    EXPECT_EQ(list.size(), 1u);
  }
  EXPECT_EQ(list.size(), 0u);
}

TEST(IoDeadline, FiresOnlyWhenPast) {
  asio::io_context io;
  Pair p(io);
  DeadlineList list;
  IoDeadline d(list, p.a);
  auto now = Clock::now();
  d.expires_at(now + std::chrono::seconds(5));
  EXPECT_EQ(list.tick(now), 0u);
  EXPECT_FALSE(d.fired());
  EXPECT_EQ(list.tick(now + std::chrono::seconds(5)), 1u);
  EXPECT_TRUE(d.fired());
  // Fired once: disarmed until armed again.
  EXPECT_EQ(list.tick(now + std::chrono::seconds(60)), 0u);
  d.expires_never();
  EXPECT_FALSE(d.fired());
  EXPECT_EQ(list.tick(Clock::time_point::max() - std::chrono::seconds(1)), 0u);
}

TEST(IoDeadline, CancelsPendingReadAndReportsTimeout) {
  asio::io_context io;
  Pair p(io);
  DeadlineList list;
  IoDeadline d(list, p.a);
  char buf[8];
  boost::system::error_code got;
  bool done = false;
  d.expires_after(std::chrono::milliseconds(0));
  p.a.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& ec, std::size_t) {
    got = d.done(ec);
    done = true;
  });
  io.poll();
  EXPECT_FALSE(done);  // nothing to read: the operation waits
  EXPECT_EQ(list.tick(Clock::now()), 1u);
  io.poll();
  ASSERT_TRUE(done);
  EXPECT_EQ(got, boost::beast::error::timeout);
  EXPECT_FALSE(d.fired());  // done() disarms
}

TEST(IoDeadline, OtherErrorsPassThrough) {
  asio::io_context io;
  Pair p(io);
  DeadlineList list;
  IoDeadline d(list, p.a);
  d.expires_after(std::chrono::seconds(30));
  // A cancel that is not the deadline's stays operation_aborted.
  EXPECT_EQ(d.check(asio::error::operation_aborted), asio::error::operation_aborted);
  EXPECT_EQ(d.check(asio::error::eof), asio::error::eof);
  EXPECT_FALSE(d.check({}));
}

TEST(IoDeadline, CompletedReadIsNotTimedOutLater) {
  asio::io_context io;
  Pair p(io);
  DeadlineList list;
  IoDeadline d(list, p.a);
  char buf[4];
  boost::system::error_code got = asio::error::would_block;
  d.expires_after(std::chrono::milliseconds(0));
  asio::write(p.b, asio::buffer("ping", 4));
  p.a.async_read_some(asio::buffer(buf),
                      [&](const boost::system::error_code& ec, std::size_t) { got = d.done(ec); });
  io.poll();
  EXPECT_FALSE(got);
  // The deadline was disarmed by done(): a later tick cancels nothing.
  EXPECT_EQ(list.tick(Clock::now() + std::chrono::hours(1)), 0u);
}

}  // namespace
}  // namespace sluice
