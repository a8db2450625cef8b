// Where Sluice reads a request body, per API shape: each JSON value the reader visits gets a
// Slot from its parent's slot and its key (or array position). Internal to request_reader.cc.
#pragma once

#include <cstdint>
#include <string_view>

#include "filters/filter.h"

namespace sluice {

enum class RequestSlot : std::uint8_t {
  kAny,  // validated, not read
  kRoot,
  kModel,   // string
  kStream,  // bool or null
  kStreamOptions,
  kIncludeUsage,  // bool or null
  kMaxTokens,     // integer or null (each cap has its own slot; the reader picks per API)
  kMaxCompletionTokens,
  kMaxOutputTokens,
  kN,        // integer >= 1 or null
  kText,     // string: prompt text
  kRawSize,  // any value whose JSON size counts as prompt text (tools, tool_use input)
  kChatMessages,
  kChatMessage,
  kChatContent,
  kChatContentPart,
  kChatToolCalls,
  kChatToolCall,
  kChatFunction,
  kRespInput,
  kRespItem,
  kRespContent,
  kRespContentPart,
  kAnthSystem,
  kAnthMessages,
  kAnthMessage,
  kAnthContent,
  kAnthBlock,
  kEmbInput,  // string, array of strings, array of token ids or array of such arrays
  kEmbItem,
  kTokenIds,
};

// Slot of the member `key` (decoded) of an object in slot `parent`.
RequestSlot member_slot(ApiKind api, RequestSlot parent, std::string_view key);

// Slot of every element of an array in slot `parent`.
RequestSlot element_slot(RequestSlot parent);

// Strings in this slot are prompt text.
bool counts_strings(RequestSlot s);

// Objects in this slot are one message / input item (RequestSummary::prompt_parts).
bool counts_as_part(RequestSlot s);

// True for every key name that some shape reads: an escaped spelling of one of these keys
// is refused, because a provider decoding it would read a value Sluice did not check.
bool is_read_key(std::string_view decoded_key);

}  // namespace sluice
