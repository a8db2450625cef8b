#include "proxy/sse_framer.h"

#include <cstring>

namespace sluice {
namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr std::size_t kBomSize = 3;

// Compacting moves the unconsumed tail to the front. Doing it only once the consumed prefix is
// at least as long as that tail bounds the copying by the bytes consumed (amortized O(1) per
// byte) and keeps the buffer under twice its live bytes; the floor avoids shuffling tiny tails
// on every push of a small-event stream.
constexpr std::size_t kCompactMin = 4096;

// First CR or LF in [from, to), else `to`. Two memchr passes beat a byte loop on long lines;
// the CR pass is bounded by the LF hit, so a line is read at most twice.
std::size_t find_eol(const std::string& s, std::size_t from, std::size_t to) {
  const char* base = s.data();
  const char* lf = static_cast<const char*>(std::memchr(base + from, '\n', to - from));
  const std::size_t lf_at = lf ? static_cast<std::size_t>(lf - base) : to;
  const char* cr = static_cast<const char*>(std::memchr(base + from, '\r', lf_at - from));
  return cr ? static_cast<std::size_t>(cr - base) : lf_at;
}

}  // namespace

SseFramer::SseFramer(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void SseFramer::push(std::string_view bytes) {
  // Every view handed out so far dies here, so this is the one place the buffer may move.
  pending_clear_ = true;
  const std::size_t live = buf_.size() - pos_;
  if (live == 0) {
    buf_.clear();
    scan_ = pos_ = 0;
  } else if (pos_ >= kCompactMin && pos_ >= live) {
    buf_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buf_.append(bytes);
}

bool SseFramer::next(SseBlock& block) {
  const std::size_t size = buf_.size();
  // The scan resumes where the previous call stopped, so each byte is examined once however
  // the stream is chunked. `term` is the first byte of the blank line that ends the block.
  std::size_t term = std::string::npos;
  while (scan_ < size) {
    const char c = buf_[scan_];
    if (at_stream_start_) {
      // The BOM is matched byte by byte rather than waited for, so a split BOM neither stalls
      // the stream nor escapes the size cap; to the scan it only decides whether the first
      // line is blank.
      if (c == kBom[bom_matched_]) {
        ++scan_;
        if (++bom_matched_ == kBomSize) {
          at_stream_start_ = false;
          bom_skip_ = kBomSize;
        }
        continue;
      }
      at_stream_start_ = false;
      if (bom_matched_ > 0) at_line_start_ = false;
    }
    if (c == '\n' && after_cr_) {
      after_cr_ = false;
      ++scan_;
      continue;
    }
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      if (at_line_start_) {
        term = scan_;
        break;
      }
      at_line_start_ = true;
      after_cr_ = c == '\r';
      ++scan_;
      continue;
    }
    at_line_start_ = false;
    scan_ = find_eol(buf_, scan_ + 1, size);
  }

  if (term == std::string::npos) {
    const std::size_t pending = size - pos_;
    if (pending == 0) return false;
    if (!in_oversize_) {
      if (pending <= max_event_bytes_) return false;
      in_oversize_ = true;
      ++oversize_events_;
    }
    block = SseBlock{};
    block.raw = std::string_view(buf_).substr(pos_, pending);
    block.oversize = true;
    pos_ = size;
    return true;
  }

  std::size_t end = term + 1;
  // A CR at the end of the buffer may be half of a CRLF. The block is handed out now rather
  // than held for a byte that may never come; no state is kept for the LF, since an LF at the
  // start of a block already scans as a blank line: its own non-dispatching block "\n".
  if (buf_[term] == '\r' && end < size && buf_[end] == '\n') ++end;

  block = SseBlock{};
  block.raw = std::string_view(buf_).substr(pos_, end - pos_);
  if (in_oversize_) {
    block.oversize = true;
    in_oversize_ = false;
  } else if (term - pos_ > max_event_bytes_) {
    // Judged on the bytes before the terminator, which is all an unfinished block can ever
    // hold: the verdict is the same whether the event arrived whole or in pieces.
    block.oversize = true;
    ++oversize_events_;
  } else {
    parse_fields(pos_ + bom_skip_, term, block);
    if (block.dispatch) ++dispatched_;
  }

  scan_ = pos_ = end;
  at_line_start_ = true;
  after_cr_ = false;
  bom_skip_ = 0;
  return true;
}

void SseFramer::parse_fields(std::size_t begin, std::size_t end, SseBlock& block) {
  const std::string_view buf(buf_);
  std::size_t data_lines = 0;
  std::size_t joined_from = 0;
  bool has_event = false;
  // Every line in [begin, end) is non-empty and terminated: the scan stopped at the first
  // blank line.
  for (std::size_t i = begin; i < end;) {
    const std::size_t eol = find_eol(buf_, i, end);
    const std::string_view line = buf.substr(i, eol - i);
    i = eol + 1;
    if (buf_[eol] == '\r' && i < end && buf_[i] == '\n') ++i;

    if (line.front() == ':') continue;
    std::string_view name = line;
    std::string_view value;
    if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
      name = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }

    if (name == "data") {
      if (data_lines == 0) {
        block.data = value;
      } else {
        if (data_lines == 1) {
          // Joined data of all blocks yielded before the next push fits in the bytes still
          // buffered, so one reserve here keeps earlier blocks' views valid until push().
          if (pending_clear_) {
            data_.clear();
            data_.reserve(buf_.size() - pos_);
            pending_clear_ = false;
          }
          joined_from = data_.size();
          data_.append(block.data);
        }
        data_.push_back('\n');
        data_.append(value);
      }
      ++data_lines;
    } else if (name == "event") {
      block.event = value;
      has_event = true;
    } else if (name == "id") {
      // WHATWG ignores an id containing NUL (it could not be sent back in Last-Event-ID).
      if (value.find('\0') == std::string_view::npos) block.id = value;
    }
  }
  if (data_lines > 1) block.data = std::string_view(data_).substr(joined_from);
  block.dispatch = data_lines > 0 || has_event;
}

std::string_view SseFramer::take_rest() {
  const std::size_t from = pos_;
  rest_.swap(buf_);
  buf_.clear();
  reset_stream();
  return std::string_view(rest_).substr(from);
}

void SseFramer::reset_stream() {
  pos_ = scan_ = 0;
  bom_matched_ = bom_skip_ = 0;
  at_stream_start_ = true;
  at_line_start_ = true;
  after_cr_ = false;
  in_oversize_ = false;
  pending_clear_ = true;
}

}  // namespace sluice
