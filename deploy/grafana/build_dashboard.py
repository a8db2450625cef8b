#!/usr/bin/env python3
"""Writes sluice-dashboard.json, the Grafana dashboard over Sluice's Prometheus metrics.

The JSON is checked in (import it as it is); this script is its source. After editing, run
    python3 deploy/grafana/build_dashboard.py
tests/deploy/test_dashboards.py fails when the two differ, and when a panel uses a metric name
that neither a live /metrics scrape nor deploy/grafana/metric-sources.txt accounts for.
"""
import json
import pathlib

OUT = pathlib.Path(__file__).with_name("sluice-dashboard.json")
SEL = 'job=~"$job",instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}
# Sluice's own time per call that the overhead panel marks and sluice-alerts.yaml alerts on.
OVERHEAD_TARGET_S = 0.005


class Layout:
    def __init__(self):
        self.panels, self.y, self.x, self.row_h, self.next_id = [], 0, 0, 0, 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def row(self, title):
        if self.x:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def panel(self, title, targets, unit="short", kind="timeseries", w=8, h=8, desc="",
              thresholds=None, stack=False):
        if self.x + w > 24:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        p = {
            "type": kind, "title": title, "id": self._id(), "datasource": DS, "description": desc,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "targets": [{"datasource": DS, "refId": chr(ord("A") + i), "expr": expr,
                         "legendFormat": legend, "range": True}
                        for i, (expr, legend) in enumerate(targets)],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
        }
        if kind == "timeseries":
            p["fieldConfig"]["defaults"]["custom"] = {
                "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
            p["options"] = {"legend": {"displayMode": "table", "placement": "bottom",
                                       "calcs": ["mean", "max"]},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        if kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "background", "graphMode": "none", "textMode": "auto"}
        if thresholds:
            p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": thresholds}
            if kind == "timeseries":
                p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line"}
        self.panels.append(p)
        self.x += w
        self.row_h = max(self.row_h, h)


def rate(metric, by, extra=""):
    sel = SEL + ("," + extra if extra else "")
    return f"sum by ({by}) (rate({metric}{{{sel}}}[$__rate_interval]))"


def quantiles(metric):
    return [(f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{SEL}}}[$__rate_interval])))",
             f"p{int(q * 100) if q < 0.999 else 99.9}") for q in (0.5, 0.95, 0.99)]


def build():
    L = Layout()
    L.row("Traffic")
    L.panel("Calls per second by status", [(rate("sluice_requests_total", "status"), "{{status}}")],
            "reqps", stack=True, desc="Calls by the HTTP status the client got.")
    L.panel("Calls per second by provider and model",
            [(rate("sluice_requests_total", "provider, model"), "{{provider}} {{model}}")], "reqps",
            stack=True, desc="The model label is capped at 2000 series per process, then `other`.")
    L.panel("Failed calls per second by error class",
            [(rate("sluice_call_errors_total", "class"), "{{class}}")], "reqps", stack=True,
            desc="Error classes as in docs/events.md: upstream_*, client_cancelled, filter_rejected, ...")
    L.panel("In flight", [(f"sum(sluice_calls_active{{{SEL}}})", "calls"),
                          (f"sum(sluice_streams_active{{{SEL}}})", "streams"),
                          (f"sum(sluice_connections_active{{{SEL}}})", "client connections")])
    L.panel("Client protocol errors per second by reason",
            [(rate("sluice_client_errors_total", "reason"), "{{reason}}")], "reqps", stack=True,
            desc="Oversized heads and bodies, slow clients (timeouts), bad JSON, smuggling attempts, unknown routes, refused keys.")
    L.panel("Client disconnects and malformed stream events per second",
            [(rate("sluice_client_disconnects_total", "instance"), "client gone {{instance}}"),
             (rate("sluice_sse_malformed_events_total", "instance"), "malformed SSE {{instance}}"),
             (rate("sluice_sse_oversize_events_total", "instance"), "oversize SSE {{instance}}")], "ops")

    L.row("Latency and Sluice's own overhead")
    L.panel("Call duration", quantiles("sluice_request_duration_seconds"), "s",
            desc="Whole call, client view, including the provider's time.")
    L.panel("Time to first byte", quantiles("sluice_ttfb_seconds"), "s",
            desc="Until the first response byte was sent to the client.")
    L.panel("Sluice overhead", quantiles("sluice_overhead_seconds"), "s",
            desc="Sluice's own time per call: total minus the time waiting on the provider and on the client. "
                 f"The line marks the alert target ({OVERHEAD_TARGET_S * 1000:g} ms p99).",
            thresholds=[{"color": "green", "value": None}, {"color": "red", "value": OVERHEAD_TARGET_S}])
    L.panel("Overhead p99 (range)",
            [(f"histogram_quantile(0.99, sum by (le) (increase(sluice_overhead_seconds_bucket{{{SEL}}}[$__range])))", "p99")],
            "s", kind="stat", w=6, h=6,
            thresholds=[{"color": "green", "value": None}, {"color": "red", "value": OVERHEAD_TARGET_S}])
    L.panel("Mean overhead per call",
            [(f"sum(rate(sluice_overhead_seconds_sum{{{SEL}}}[$__rate_interval])) / sum(rate(sluice_overhead_seconds_count{{{SEL}}}[$__rate_interval]))", "mean")],
            "s", w=6, h=6)
    L.panel("Upstream connection pool",
            [(rate("sluice_upstream_connects_total", "instance"), "new connections/s {{instance}}"),
             (rate("sluice_upstream_reused_total", "instance"), "reused/s {{instance}}"),
             (rate("sluice_upstream_connect_errors_total", "instance"), "connect errors/s {{instance}}"),
             (rate("sluice_upstream_retries_total", "instance"), "retries/s {{instance}}"),
             (f"sum by (instance) (sluice_upstream_idle_connections{{{SEL}}})", "idle {{instance}}")],
            "short", w=12, h=6)

    L.row("Tokens and spend")
    L.panel("Tokens per second by provider and direction",
            [(rate("sluice_tokens_total", "provider, direction"), "{{provider}} {{direction}}")], "short",
            stack=True, desc="Provider-reported usage, or Sluice's own count when the provider reports none.")
    L.panel("Tokens per second by tenant and model",
            [(rate("sluice_tenant_tokens_total", "tenant, model, direction"), "{{tenant}} {{model}} {{direction}}")],
            "short", stack=True, desc="sluice_tenant_tokens_total: tokens per tenant and model.")
    L.panel("Spend per hour by tenant and model (USD)",
            [(f"sum by (tenant, model) (rate(sluice_spend_microdollars_total{{{SEL}}}[$__rate_interval])) * 3600 / 1e6",
              "{{tenant}} {{model}}")], "currencyUSD", stack=True,
            desc="sluice_spend_microdollars_total: spend priced by the budget filter.")
    L.panel("Budget thresholds and rejections per second",
            [(rate("sluice_filter_events_total", "event", 'filter="budget",event=~"threshold_alerts|rejected|unknown_model_price"'),
              "{{event}}")], "ops", w=24, h=6,
            desc="threshold_alerts: a budget crossed 80 % or 100 % of its window; rejected: calls refused with 429 "
                 "insufficient_quota; unknown_model_price: calls charged at the default price.")

    L.row("PII findings and limit rejections")
    L.panel("PII and secret filter decisions per second",
            [(rate("sluice_filter_events_total", "event", 'filter="pii",event=~".*(redacted|blocked|alerted)"'), "{{event}}")],
            "ops", stack=True,
            desc="Calls in which the PII filter found something, by direction and action (request.redacted, response.blocked, ...).")
    L.panel("Limit rejections per second",
            [(rate("sluice_call_errors_total", "class", 'class="filter_rejected"'), "all filter rejections"),
             (rate("sluice_filter_events_total", "filter", 'filter=~"budget|ratelimit",event="rejected"'),
              "{{filter}} rejected"),
             (rate("sluice_filter_events_total", "filter", 'filter="model_access",event="denied"'),
              "model_access denied")], "ops",
            desc="Calls a request filter answered locally (429 budget or rate limit, 403 model access, ...).")
    L.panel("Limit store trouble per second",
            [(rate("sluice_filter_events_total", "filter, event",
                   'filter=~"budget|ratelimit",event=~"store_errors|failed_open|failed_closed|settle_errors|renew_errors"'),
              "{{filter}} {{event}}")], "ops",
            desc="Redis unreachable or slow: failed_open admits on a local bucket, failed_closed refuses (the default for spend).")
    L.panel("All filter decisions per second",
            [(rate("sluice_filter_events_total", "filter, event"), "{{filter}} {{event}}")], "ops", stack=True)

    L.row("Events: Kafka, spool and sinks")
    L.panel("Kafka broker connection", [(f"min(sluice_sink_kafka_broker_up{{{SEL}}})", "up")], kind="stat",
            w=4, h=6, thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
            desc="1 while every Sluice has a working connection to at least one broker.")
    L.panel("Spool use", [(f"max(sluice_sink_spool_bytes{{{SEL}}} / sluice_sink_spool_max_bytes{{{SEL}}})", "used")],
            "percentunit", kind="stat", w=4, h=6,
            thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.5},
                        {"color": "red", "value": 0.8}])
    L.panel("Oldest undelivered event", [(f"max(sluice_sink_spool_oldest_unacked_age_seconds{{{SEL}}})", "age")],
            "s", kind="stat", w=4, h=6,
            thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 60},
                        {"color": "red", "value": 300}])
    L.panel("Kafka delivery per second",
            [(rate("sluice_sink_kafka_produced_total", "instance"), "produced {{instance}}"),
             (rate("sluice_sink_kafka_acknowledged_total", "instance"), "acknowledged {{instance}}"),
             (rate("sluice_sink_kafka_failed_total", "reason"), "failed {{reason}}"),
             (rate("sluice_sink_kafka_retried_total", "instance"), "retried {{instance}}")], "ops", w=12, h=6)
    L.panel("Spool size", [(f"sum by (instance) (sluice_sink_spool_bytes{{{SEL}}})", "bytes {{instance}}"),
                           (f"sum by (instance) (sluice_sink_spool_max_bytes{{{SEL}}})", "cap {{instance}}")],
            "bytes")
    L.panel("Spool records not yet acknowledged",
            [(f"sum by (instance) (sluice_sink_spool_unacked_records{{{SEL}}})", "unacked {{instance}}"),
             (f"sum by (instance) (sluice_sink_spool_in_flight_records{{{SEL}}})", "in flight {{instance}}")])
    L.panel("Spool records per second by outcome",
            [(rate("sluice_sink_spool_records_total", "outcome"), "{{outcome}}")], "ops", stack=True,
            desc="appended and acked are normal; dropped_*, too_large and lost_io lose events.")
    L.panel("Sink records per second by sink and outcome",
            [(rate("sluice_sink_records_total", "sink, outcome"), "{{sink}} {{outcome}}")], "ops", stack=True)
    L.panel("Sink queue depth", [(f"sum by (sink) (sluice_sink_queue_depth{{{SEL}}})", "{{sink}}")])
    L.panel("Events and alerts published per second",
            [(rate("sluice_events_published_total", "instance"), "events {{instance}}"),
             (rate("sluice_alerts_published_total", "instance"), "alerts {{instance}}")], "ops")

    def var(name, query, label):
        return {"name": name, "label": label, "type": "query", "datasource": DS,
                "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
                "includeAll": True, "multi": True, "allValue": ".*",
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1}

    return {
        "title": "Sluice",
        "uid": "sluice-overview",
        "description": "Sluice LLM proxy: traffic, latency and overhead, tokens and spend, PII, limits, Kafka spool.",
        "tags": ["sluice", "llm"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": ""},
            var("job", "label_values(sluice_connections_total, job)", "Job"),
            var("instance", 'label_values(sluice_connections_total{job=~"$job"}, instance)', "Instance"),
        ]},
        "panels": L.panels,
    }


def render():
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
