// Maps a request to its Plan: provider endpoints (OpenAI chat / responses / embeddings /
// models, Anthropic messages), the mock's control endpoints under /__mock/, and 404s.
// Faults requested with x-mock-fault or a "@fault=" model suffix are applied here.
#pragma once

#include "mock/mock_types.h"
#include "mock/recorder.h"

namespace sluice::mock {

// Control endpoints (not recorded, no seq): GET /__mock/requests, POST /__mock/reset,
// GET /__mock/health.
bool is_control_request(const MockRequest& req);
Plan control_response(const MockRequest& req, Recorder& recorder);

// Everything else. Pure: equal requests give equal plans.
Plan route(const MockRequest& req);

}  // namespace sluice::mock
