// Writes sample records to the build tree, for the integration suite to validate against
// docs/event-schema.json and docs/alert-schema.json (Python jsonschema). Each file holds one
// JSON object and a trailing newline. Directory: <build>/tests/sinks/event_samples/.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sinks/event_id.h"
#include "sinks/event_json.h"
#include "tests/sinks/sample_events.h"

namespace sluice {
namespace {

void write_sample(const std::string& name, const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  const std::filesystem::path dir = SLUICE_EVENT_SAMPLES_DIR;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out << json << '\n';
  out.close();
  ASSERT_TRUE(out.good()) << (dir / name);
}

TEST(EventSamples, WriteCallEvents) {
  CallEvent full = test_data::sample_call_event();
  full.event_id = new_event_id(full.start_unix_us);
  write_sample("call_event.json", to_json(full));

  // A call that failed before any byte reached the client: nulls everywhere they can appear.
  CallEvent failed;
  failed.event_id = new_event_id(1795827723000000);
  failed.request_id = "req_0001";
  failed.start_unix_us = 1795827723000000;
  failed.identity = {"default", "", "", "", "none"};
  failed.provider = "anthropic";
  failed.upstream = "anthropic";
  failed.endpoint = "messages";
  failed.method = "POST";
  failed.path = "/v1/messages";
  failed.requested_model = "claude-sonnet-4-5";
  failed.stream = true;
  failed.status = 504;
  failed.error_class = "upstream_timeout";
  failed.error_source = "upstream";
  failed.total_us = 30000512;
  failed.upstream_us = 30000000;
  failed.overhead_us = 512;
  failed.usage.input_tokens = 812;
  failed.usage.source = TokenUsage::Source::kEstimated;
  failed.request_bytes = 2048;
  write_sample("call_event_error.json", to_json(failed));
}

TEST(EventSamples, WriteAlerts) {
  AlertEvent alert = test_data::sample_alert_event();
  alert.alert_id = new_event_id(alert.unix_us);
  write_sample("alert_event.json", to_json(alert));

  AlertEvent unbound;  // not tied to a call, no details
  unbound.alert_id = new_event_id(1795827723000000);
  unbound.unix_us = 1795827723000000;
  unbound.type = "provider.unapproved_host";
  unbound.severity = "critical";
  unbound.source = "connect";
  unbound.identity = {"default", "", "", "", "none"};
  unbound.message = "CONNECT to a host outside the allow-list was refused";
  write_sample("alert_event_unbound.json", to_json(unbound));
}

}  // namespace
}  // namespace sluice
