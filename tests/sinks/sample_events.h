// Realistic, fully populated events shared by the sink tests.
#pragma once

#include "sinks/event.h"

namespace sluice::test_data {

inline CallEvent sample_call_event() {
  CallEvent e;
  e.event_id = "01936b2e-8f3a-7c4d-9e5f-0a1b2c3d4e5f";
  e.request_id = "req_7f3a9c2e4b1d";
  e.start_unix_us = 1795827723456789;  // 2026-11-28T01:02:03.456789Z
  e.identity = {"acme", "search", "answer-bot", "9f86d081884c7d65", "virtual"};
  e.provider = "openai";
  e.upstream = "openai-prod";
  e.endpoint = "chat.completions";
  e.method = "POST";
  e.path = "/v1/chat/completions";
  e.requested_model = "gpt-4o";
  e.served_model = "gpt-4o-2024-08-06";
  e.stream = true;
  e.status = 200;
  e.finish_reason = "stop";
  e.ttfb_us = 412345;
  e.total_us = 2876543;
  e.upstream_us = 2871000;
  e.overhead_us = 5543;
  e.usage = {1200, 1024, 0, 350, 64, TokenUsage::Source::kProvider};
  e.cost_micro_usd = 4250;
  e.request_bytes = 5321;
  e.response_bytes = 18876;
  e.sse_events = 87;
  e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  e.filter_fields = {
      {"pii", R"({"findings":[{"type":"email","place":"request","count":2}],"action":"redact"})"},
      {"budget", R"({"scope":"tenant","remaining_micro_usd":995750,"state":"ok"})"},
  };
  e.alerts = 1;
  return e;
}

inline AlertEvent sample_alert_event() {
  AlertEvent a;
  a.alert_id = "01936b2e-8f3b-7000-8000-0123456789ab";
  a.event_id = "01936b2e-8f3a-7c4d-9e5f-0a1b2c3d4e5f";
  a.request_id = "req_7f3a9c2e4b1d";
  a.unix_us = 1795827723500000;
  a.type = "pii.redacted";
  a.severity = "warning";
  a.source = "pii";
  a.identity = {"acme", "search", "answer-bot", "9f86d081884c7d65", "virtual"};
  a.provider = "openai";
  a.model = "gpt-4o";
  a.message = "2 email addresses redacted from the request";
  a.details_json = R"({"type":"email","place":"request","count":2})";
  return a;
}

}  // namespace sluice::test_data
