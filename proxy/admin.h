// The admin listener (its own port, loopback by default): health, readiness and metrics.
//
//   GET /healthz       200 while the process serves (liveness)
//   GET /readyz        200 when accepting calls, 503 while draining (readiness)
//   GET /metrics       Prometheus text format: proxy, filter and sink metrics
//   GET /admin/status  JSON status; needs `Authorization: Bearer <listener.admin_token>`
//                      (404 when no token is configured)
//   POST /admin/reload reloads the configuration file (same token); 200 with the outcome as
//                      JSON, 422 when the new file is refused (the running one stays)
// A Kafka or other sink outage never fails /readyz: the sinks absorb it (see docs).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace sluice {

struct SharedState;
class ProxyMetrics;

struct AdminContext {
  SharedState* shared;
  ProxyMetrics* metrics;
  std::chrono::steady_clock::time_point started;
  int workers;
};

boost::asio::awaitable<void> serve_admin(boost::asio::ip::tcp::socket socket, AdminContext ctx);

}  // namespace sluice
