#include "proxy/io_deadline.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>

namespace sluice {

IoDeadline::IoDeadline(DeadlineList& list, boost::asio::ip::tcp::socket& socket)
    : list_(list), socket_(socket) {
  list_.add(this);
}

IoDeadline::~IoDeadline() { list_.remove(this); }

boost::system::error_code IoDeadline::check(const boost::system::error_code& ec) const {
  if (fired_ && ec == boost::asio::error::operation_aborted) return boost::beast::error::timeout;
  return ec;
}

void DeadlineList::add(IoDeadline* d) {
  d->prev_ = nullptr;
  d->next_ = head_;
  if (head_ != nullptr) head_->prev_ = d;
  head_ = d;
  ++size_;
}

void DeadlineList::remove(IoDeadline* d) {
  if (d->prev_ != nullptr)
    d->prev_->next_ = d->next_;
  else
    head_ = d->next_;
  if (d->next_ != nullptr) d->next_->prev_ = d->prev_;
  d->prev_ = d->next_ = nullptr;
  --size_;
}

std::size_t DeadlineList::tick(IoDeadline::Clock::time_point now) {
  std::size_t fired = 0;
  // A linear pass: a few thousand time comparisons per tick cost far less than one timer
  // operation per read and write.
  for (IoDeadline* d = head_; d != nullptr; d = d->next_) {
    if (d->at_ > now) continue;
    d->at_ = IoDeadline::Clock::time_point::max();
    d->fired_ = true;
    boost::system::error_code ec;
    d->socket_.cancel(ec);  // completion handlers run later, never inside this loop
    ++fired;
  }
  return fired;
}

}  // namespace sluice
