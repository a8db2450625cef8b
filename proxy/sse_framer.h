// SseFramer: splits a byte stream of Server-Sent Events (WHATWG HTML, "event stream
// interpretation") into blocks, without ever losing or reordering a byte.
//
// Contract
//  * push(bytes) copies the bytes in; next(block) then yields every complete block, in order.
//    A block is everything up to and including the blank line that ends an event, so the
//    concatenation of every block's `raw` (plus take_rest() at end of stream) is exactly the
//    input. Views in a block stay valid until the next push() or take_rest().
//  * Lines end in CR, LF or CRLF. A CRLF split across two pushes counts once: when a block
//    ends on a lone CR, a following LF is handed out as a separate non-dispatching block
//    (raw = "\n") instead of being read as a new blank line.
//  * Fields: `event`, `data` (lines joined with "\n"), `id`; `retry` and unknown fields are
//    ignored; a line starting with ':' is a comment; "field" without a colon has an empty
//    value; one space after the colon is dropped. A UTF-8 BOM at stream start is ignored for
//    parsing (it stays in `raw`).
//  * A block with neither a data nor an event field does not dispatch (`dispatch == false`):
//    comments, keep-alives, stray blank lines. Forward its raw bytes, do not interpret it.
//  * Caps: when an unfinished block grows past max_event_bytes, its bytes are handed out as
//    `oversize` blocks as they arrive (never held), up to and including its terminator;
//    oversize_events() counts such events. Memory stays bounded by max_event_bytes plus one push.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

struct SseBlock {
  std::string_view raw;    // exact input bytes of this block, terminator included
  std::string_view event;  // last `event:` value, empty if none
  std::string_view data;   // data lines joined with '\n' (no trailing newline)
  std::string_view id;     // last `id:` value
  bool dispatch = false;   // true when the block carries data or an event type
  bool oversize = false;   // part of an event longer than the cap: raw only, fields empty

  bool is_done() const { return dispatch && data == "[DONE]"; }
};

class SseFramer {
 public:
  explicit SseFramer(std::size_t max_event_bytes = 1 << 20);

  // Appends bytes read from the stream.
  void push(std::string_view bytes);

  // Yields the next complete block; false when none is complete yet.
  bool next(SseBlock& block);

  // End of stream: returns the bytes of an unterminated last block (an event that never got
  // its blank line is not dispatched, per the spec) and resets the buffer.
  std::string_view take_rest();

  std::uint64_t oversize_events() const { return oversize_events_; }
  std::uint64_t dispatched_events() const { return dispatched_; }
  std::size_t buffered_bytes() const { return buf_.size() - pos_; }

 private:
  void parse_fields(std::size_t begin, std::size_t end, SseBlock& block);
  void reset_stream();

  std::string buf_;       // pending input; [pos_, size) not yet handed out
  std::size_t pos_ = 0;   // start of the next block in buf_
  std::size_t scan_ = 0;  // next byte of the current block to scan for its terminator
  std::string data_;      // joined data of multi-line events yielded since the last push
  std::string rest_;      // storage for take_rest()
  std::size_t max_event_bytes_;
  std::uint64_t oversize_events_ = 0;
  std::uint64_t dispatched_ = 0;
  std::uint8_t bom_matched_ = 0;  // leading bytes of the stream that match the UTF-8 BOM
  std::uint8_t bom_skip_ = 0;     // BOM bytes at the start of the current block (0 or 3)
  bool at_stream_start_ = true;   // still deciding whether the stream starts with a BOM
  bool at_line_start_ = true;     // the scan is at the start of a line
  bool after_cr_ = false;         // the last scanned byte ended a line with CR
  bool in_oversize_ = false;      // forwarding an oversize event until its terminator
  bool pending_clear_ = true;     // data_ holds nothing still viewable: reuse it from the start
};

}  // namespace sluice
