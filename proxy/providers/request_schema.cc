#include "proxy/providers/request_schema.h"

#include <algorithm>
#include <array>

namespace sluice {

using S = RequestSlot;

namespace {

S root_member(ApiKind api, std::string_view key) {
  if (key == "model") return S::kModel;
  if (key == "stream") return S::kStream;
  switch (api) {
    case ApiKind::kChatCompletions:
      if (key == "messages") return S::kChatMessages;
      if (key == "stream_options") return S::kStreamOptions;
      if (key == "max_tokens") return S::kMaxTokens;
      if (key == "max_completion_tokens") return S::kMaxCompletionTokens;
      if (key == "n") return S::kN;
      if (key == "tools" || key == "functions") return S::kRawSize;
      return S::kAny;
    case ApiKind::kResponses:
      if (key == "input") return S::kRespInput;
      if (key == "instructions") return S::kText;
      if (key == "max_output_tokens") return S::kMaxOutputTokens;
      if (key == "tools") return S::kRawSize;
      return S::kAny;
    case ApiKind::kMessages:
      if (key == "messages") return S::kAnthMessages;
      if (key == "system") return S::kAnthSystem;
      if (key == "max_tokens") return S::kMaxTokens;
      if (key == "tools") return S::kRawSize;
      return S::kAny;
    case ApiKind::kEmbeddings:
      if (key == "input") return S::kEmbInput;
      return S::kAny;
    case ApiKind::kPassthrough:
      // Legacy completions and other OpenAI-compatible routes: read what is cheap and common.
      if (key == "prompt") return S::kEmbInput;
      if (key == "stream_options") return S::kStreamOptions;
      if (key == "max_tokens") return S::kMaxTokens;
      if (key == "max_completion_tokens") return S::kMaxCompletionTokens;
      if (key == "n") return S::kN;
      return S::kAny;
  }
  return S::kAny;
}

}  // namespace

RequestSlot member_slot(ApiKind api, RequestSlot parent, std::string_view key) {
  switch (parent) {
    case S::kRoot:
      return root_member(api, key);
    case S::kStreamOptions:
      return key == "include_usage" ? S::kIncludeUsage : S::kAny;
    case S::kChatMessage:
      if (key == "content") return S::kChatContent;
      if (key == "tool_calls") return S::kChatToolCalls;
      if (key == "function_call") return S::kChatFunction;
      return S::kAny;
    case S::kChatContentPart:
      return key == "text" ? S::kText : S::kAny;
    case S::kChatToolCall:
      return key == "function" ? S::kChatFunction : S::kAny;
    case S::kChatFunction:
      return key == "arguments" ? S::kText : S::kAny;
    case S::kRespItem:
      if (key == "content" || key == "output") return S::kRespContent;
      if (key == "arguments") return S::kText;
      return S::kAny;
    case S::kRespContentPart:
      return key == "text" ? S::kText : S::kAny;
    case S::kAnthMessage:
      return key == "content" ? S::kAnthContent : S::kAny;
    case S::kAnthBlock:
      if (key == "text" || key == "thinking") return S::kText;
      if (key == "input") return S::kRawSize;
      if (key == "content") return S::kAnthContent;  // tool_result content
      return S::kAny;
    default:
      return S::kAny;
  }
}

RequestSlot element_slot(RequestSlot parent) {
  switch (parent) {
    case S::kChatMessages:
      return S::kChatMessage;
    case S::kChatContent:
      return S::kChatContentPart;
    case S::kChatToolCalls:
      return S::kChatToolCall;
    case S::kRespInput:
      return S::kRespItem;
    case S::kRespContent:
      return S::kRespContentPart;
    case S::kAnthSystem:
      return S::kAnthBlock;
    case S::kAnthMessages:
      return S::kAnthMessage;
    case S::kAnthContent:
      return S::kAnthBlock;
    case S::kEmbInput:
      return S::kEmbItem;
    case S::kEmbItem:
      return S::kTokenIds;
    default:
      return S::kAny;
  }
}

bool counts_strings(RequestSlot s) {
  switch (s) {
    case S::kText:
    case S::kChatContent:
    case S::kRespInput:
    case S::kRespContent:
    case S::kAnthSystem:
    case S::kAnthContent:
    case S::kEmbInput:
    case S::kEmbItem:
      return true;
    default:
      return false;
  }
}

bool counts_as_part(RequestSlot s) {
  return s == S::kChatMessage || s == S::kRespItem || s == S::kAnthMessage;
}

bool is_read_key(std::string_view key) {
  static constexpr std::array<std::string_view, 28> kKeys = {"arguments",
                                                             "content",
                                                             "function",
                                                             "function_call",
                                                             "functions",
                                                             "include_usage",
                                                             "input",
                                                             "instructions",
                                                             "max_completion_tokens",
                                                             "max_output_tokens",
                                                             "max_tokens",
                                                             "messages",
                                                             "model",
                                                             "n",
                                                             "name",
                                                             "output",
                                                             "prompt",
                                                             "role",
                                                             "stream",
                                                             "stream_options",
                                                             "system",
                                                             "text",
                                                             "thinking",
                                                             "tool_calls",
                                                             "tool_choice",
                                                             "tools",
                                                             "type",
                                                             "usage"};
  return std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end();
}

}  // namespace sluice
