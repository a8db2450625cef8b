// Serialization of CallEvent and AlertEvent to their JSON wire form (schema_version 1), and the
// Records handed to sinks. Field-by-field reference: docs/events.md; JSON Schema:
// docs/event-schema.json and docs/alert-schema.json.
//
// Contract
//  * Output is one compact JSON object, no trailing newline, always valid UTF-8 JSON whatever the
//    struct holds (invalid UTF-8 in strings becomes U+FFFD, see json_writer.h).
//  * Every field is always present. Empty strings are written as "" except where the schema says
//    null: "error" is null when error_class is empty, "finish_reason" is null when empty, "trace"
//    is null when traceparent is empty, "timing_us.ttfb" and "cost_micro_usd" are null when
//    negative (-1 means unknown / not priced).
//  * Time is RFC 3339 UTC with exactly six fractional digits ("2026-11-28T01:02:03.456789Z"),
//    clamped to years 0000..9999.
//  * JSON fragments (CallEvent::filter_fields values, AlertEvent::details_json) are embedded as
//    they are when they are a single JSON object; an empty (or blank) one becomes {}; anything else
//    (a filter bug) becomes {"invalid_json":"<the text as a string>"} so one bad fragment
//    cannot corrupt the record. Filter names must be unique: for a repeated name only the first
//    entry is written, since duplicate keys are not interoperable JSON.
//  * make_record() runs on the request path: one serialization into a per-thread buffer sized
//    for the worst case (max_json_size), copied out at its exact size, plus the Record and its
//    id as the only other allocations (bench/kafka_sink_bench.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sinks/event.h"
#include "sinks/sink.h"

namespace sluice {

std::string to_json(const CallEvent& event);
// The most bytes to_json(event) can take for this event's strings and fragments (whatever its
// numbers); to_json writes into a buffer of this size.
std::size_t max_json_size(const CallEvent& event);
std::string to_json(const AlertEvent& alert);

// Record{kind = kEvent, id = event_id, key = identity.tenant, json = to_json(event)}.
RecordPtr make_record(const CallEvent& event);
// Record{kind = kAlert, id = alert_id, key = identity.tenant, json = to_json(alert)}.
RecordPtr make_record(const AlertEvent& alert);

// Appends unix_us as RFC 3339 UTC with microseconds, e.g. "1970-01-01T00:00:00.000000Z"
// (no quotes). Times before year 0000 or after 9999 are clamped to the nearest representable one.
void append_rfc3339_us(std::string& out, std::int64_t unix_us);

}  // namespace sluice
