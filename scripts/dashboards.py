"""Writes the Grafana dashboards of dashboards/ (JSON, provisioned by
deploy/grafana/provisioning/dashboards/). Edit the panels here, then run

    python scripts/dashboards.py          # rewrite dashboards/*.json
    python scripts/dashboards.py --check  # exit 1 if they differ from this file

tests/unit/test_deployment.py fails when the JSON is not what this file
writes; tests/integration/test_prometheus.py runs every query against a real
Prometheus scraping a worker. Queries are plain PromQL (no Grafana variables),
so that they can be tested as they are.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from generated import write_or_check

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
# The datasource of deploy/grafana/provisioning/datasources/prometheus.yml
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
DATASOURCE_NAME = "Prometheus"
STANDARDS = ("message_response", "on_time_shipping", "review_rating", "case_rate")
HOUR = 3600


def target(expr: str, legend: str = "", ref: str = "A") -> dict:
    return {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend or "__auto",
            "range": True}


def panel(title: str, targets: list[dict], unit: str = "short", kind: str = "timeseries",
          description: str = "", stack: bool = False, w: int = 12, h: int = 8) -> dict:
    for ref, t in zip("ABCDEFGH", targets):
        t["refId"] = ref
    custom = {"stacking": {"mode": "normal" if stack else "none", "group": "A"}} if kind == "timeseries" else {}
    if stack:
        custom["fillOpacity"] = 30
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "targets": targets, "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {}, "gridPos": {"w": w, "h": h}}


def dashboard(uid: str, title: str, description: str, panels: list[dict]) -> dict:
    x = y = row_h = 0
    for i, p in enumerate(panels, 1):  # left to right, top to bottom, 24 columns
        if x + p["gridPos"]["w"] > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"].update(x=x, y=y)
        x += p["gridPos"]["w"]
        row_h = max(row_h, p["gridPos"]["h"])
    return {"uid": uid, "title": title, "description": description, "tags": ["seller-standards"],
            "editable": True, "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "timezone": "utc",
            "templating": {"list": []}, "annotations": {"list": []}, "panels": panels}


def fleet() -> dict:
    panels = [
        panel(f"Sellers by status: {standard}",
              [target(f'sum by (status) (seller_standards_sellers{{standard="{standard}"}})', "{{status}}")],
              stack=True, w=6,
              description=f"Sellers held by the workers by live status of {standard} "
                          "(met, not_met, not_enough_data, not_applicable), summed over workers.")
        for standard in STANDARDS
    ]
    panels += [
        panel("Violations opened per hour",
              [target('sum by (standard) (increase(seller_standards_violations_total{change="opened"}[1h]))',
                      "{{standard}}")],
              description="violation.opened records of the last hour, by standard."),
        panel("Violations resolved per hour",
              [target('sum by (standard) (increase(seller_standards_violations_total{change="resolved"}[1h]))',
                      "{{standard}}")],
              description="violation.resolved records of the last hour, by standard."),
        panel("Deadline warnings per hour",
              [target("sum by (item) (increase(seller_standards_alerts_total[1h]))", "{{item}}")],
              description="Warnings sent to standards.alerts in the last hour: unanswered threads "
                          "(thread) and unshipped orders (order) close to their deadline."),
        panel("Monthly evaluations per hour",
              [target("sum(increase(seller_standards_evaluations_total[1h]))", "evaluations")],
              description="Monthly evaluation records written (SPEC 6.1); a burst each month after "
                          "the evaluation delay."),
        panel("Star Sellers and badges",
              [target("sum by (badge) (seller_standards_badges)", "{{badge}}")],
              description="Sellers eligible now (period to date) for Star Seller and each area badge."),
        panel("Sellers in state", [target("sum(seller_standards_sellers_in_state)", "sellers")],
              kind="stat", w=6, h=6, description="Sellers held in the workers' state, summed over workers."),
        panel("Alerts firing",
              [target('count(ALERTS{alertname=~"SellerStandards.*", alertstate="firing"}) or vector(0)',
                      "firing")],
              kind="stat", w=6, h=6,
              description="Alert rules of deploy/alerts.yml firing now (Prometheus)."),
        {**panel("Alerts", [], kind="alertlist", w=12, h=6,
                 description="Prometheus alert rules of seller-standards and their state."),
         "options": {"viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 20,
                     "sortOrder": 3, "dashboardAlerts": False, "alertName": "SellerStandards",
                     "alertInstanceLabelFilter": "", "showInactiveAlerts": True,
                     "stateFilter": {"firing": True, "pending": True, "recovering": True, "noData": False,
                                     "normal": True, "error": True},
                     "datasource": DATASOURCE_NAME}},
    ]
    return dashboard("seller-standards-fleet", "Seller standards: fleet",
                     "Sellers by standard and status, violations, deadline warnings, alerts.", panels)


def quantiles(metric: str, window: str, qs=(0.5, 0.99)) -> list[dict]:
    return [target(f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket[{window}])))", f"p{q * 100:g}")
            for q in qs]


def pipeline() -> dict:
    panels = [
        panel("Input events/s by topic",
              [target("sum by (topic) (rate(seller_standards_events_total[5m]))", "{{topic}}")],
              unit="ops", description="Valid input events processed per second, by input topic."),
        panel("Dead letters/s by reason",
              [target("sum by (reason) (rate(seller_standards_deadletters_total[5m]))", "{{reason}}")],
              unit="ops", description="Input records sent to standards.deadletter, by reason code."),
        panel("Late input per hour",
              [target("sum by (topic) (increase(seller_standards_events_after_evaluation_total[1h]))",
                      "after its evaluation: {{topic}}"),
               target("sum by (item) (increase(seller_standards_proofs_past_lateness_total[1h]))",
                      "proof past allowed lateness: {{item}}", "B")],
              description="Valid input events dated before the instant of the last month their partition had "
                          "evaluated: they came after that monthly evaluation was made and are not in its records "
                          "(SPEC 6). Near 0, but for the events in flight at a month's evaluation instant; a burst "
                          "is history published late (alert SellerStandardsEventsAfterEvaluation). And deadlines "
                          "an event proved met (a reply, a shipment, in time) after the clock was more than "
                          "allowed_lateness past them: the live scorecard keeps them missed or late, the monthly "
                          "evaluation counts them met (SPEC 3)."),
        panel("Output records/s by topic",
              [target("sum by (topic) (rate(seller_standards_outputs_total[5m]))", "{{topic}}")],
              unit="ops", description="Records written to the standards.* topics."),
        panel("State writes/s",
              [target("sum(rate(seller_standards_state_writes_total[5m]))", "state records")],
              unit="ops", description="State records written to the seller-state topic at each commit: one per item "
                                      "changed or dropped since the commit before, per seller whose header changed "
                                      "or who left state, and per partition whose record (its clocks, the months "
                                      "evaluated, where its outputs start) changed."),
        panel("Partition clock lag",
              [target("seller_standards_partition_clock_lag_seconds", "p{{partition}} {{instance}}")],
              unit="s", description="Wall time minus each partition's stream clock (minimum event time over "
                                    "the input topics; moved by the wall clock too with CLOCK=wall). "
                                    "A line rising at 1 s/s is a stalled clock (alert "
                                    "SellerStandardsClockStalled); one below 0 is a clock ahead of wall "
                                    "time, moved by events dated in the future (alert "
                                    "SellerStandardsClockAhead below -5 min)."),
        panel("Latest event per input topic, behind wall time",
              [target("min by (topic) (seller_standards_topic_event_lag_seconds)", "{{topic}}")],
              unit="s", description="Wall time minus the latest occurred_at of a valid event on each input "
                                    "topic. Below 0: a producer dates events in the future (alert "
                                    "SellerStandardsEventsDatedAhead below -5 min); rising at 1 s/s: a topic "
                                    "that gets no events (nor heartbeats)."),
        panel("Consumer lag",
              [target("sum by (topic) (seller_standards_consumer_lag_records)", "{{topic}}")],
              description="Input records not yet committed (fetch high watermark minus committed offset), "
                          "by input topic, summed over partitions and workers."),
        panel("Rebalances per hour",
              [target("sum(increase(seller_standards_rebalances_total[1h]))", "rebalances")],
              description="Partition revocations seen by the workers; steady growth means workers keep "
                          "leaving and joining the group."),
        panel("Last state restore",
              [target("max by (instance) (seller_standards_restore_seconds)", "{{instance}}")],
              unit="s", description="How long each worker's last restore took: at every rebalance a worker "
                                    "reads its partitions' state from the seller-state topic and applies no input "
                                    "meanwhile. It grows with the state and with an uncompacted topic."),
        panel("Outputs read back, not sent again",
              [target("sum by (topic) (increase(seller_standards_outputs_not_sent_again_total[1h]))", "{{topic}}")],
              description="Outputs a restored worker decided again (the events since the last commit, the "
                          "transitions its state holds) that the worker before had already sent: read back from "
                          "the output topics after a crash and not sent twice (docs/reliability.md). 0 after "
                          "graceful stops and rebalances."),
        panel("Processing latency",
              quantiles("seller_standards_processing_latency_seconds", "5m"),
              unit="s", description="From an input record's Kafka timestamp to processed: grows when the "
                                    "workers fall behind their partitions (consumer lag)."),
        panel("Garbage collection: share of time paused",
              [target("sum by (generation) (rate(seller_standards_gc_pause_seconds_sum[5m]))",
                      "generation {{generation}}")],
              unit="percentunit", stack=True,
              description="Of each second, the share the workers' garbage collector held every thread: input "
                          "waiting meanwhile waits for it too (a young generation's collection took 85-130 ms "
                          "on average in the benchmark's live worker; seller_standards_gc_pause_seconds has "
                          "their count and lengths)."),
        panel("First response time",
              quantiles("seller_standards_first_response_seconds", "1h", (0.5, 0.9, 0.99)),
              unit="s", description="Buyer's initial message to the seller's first response, for threads "
                                    "answered in the last hour (histogram quantiles; buckets up to 168 h)."),
        panel("Answered threads: share answered within 24 h / 48 h",
              [target(f'sum(rate(seller_standards_first_response_seconds_bucket{{le="{hours * HOUR:.1f}"}}[1h]))'
                      " / sum(rate(seller_standards_first_response_seconds_count[1h]))", f"within {hours} h")
               for hours in (24, 48)],
              unit="percentunit", description="Of the threads whose first response came in the last hour, "
                                              "the share answered within 24 h (Star Seller) and 48 h "
                                              "(message_response). Threads never answered are not in it: "
                                              "the standards' own rates are in the scorecards."),
        panel("Workers up", [target('sum(up{job="seller-standards"})', "up")], kind="stat", w=6, h=6,
              description="Workers whose /metrics Prometheus scraped last time."),
        panel("Input not partitioned by seller",
              [target("sum by (topic) (rate(seller_standards_events_keyed_otherwise_total[5m]))",
                      "keyed otherwise: {{topic}}"),
               target("sum(rate(seller_standards_split_sellers_total[5m]))", "sellers on two partitions", "B")],
              unit="ops", w=6, h=6,
              description="Valid input events (heartbeats aside) whose Kafka key is not their seller_id, and "
                          "sellers a worker found on two of its partitions (another partitioner or key): their "
                          "numbers are wrong (alerts SellerStandardsInputNotKeyedBySeller, "
                          "SellerStandardsSellersSplitAcrossPartitions). Stays at 0."),
        panel("Workers", [target('up{job="seller-standards"}', "{{instance}}")], w=18, h=6,
              description="1 = scraped, 0 = down (alert SellerStandardsWorkerDown after 1 min)."),
        panel("Workers by version", [target("count by (version) (seller_standards_build_info)", "{{version}}")],
              kind="stat", w=6, h=6,
              description="Workers per release they run (seller-standards --version): more than one during a "
                          "rollout."),
        panel("Workers by policy",
              [target("count by (app_id, name, fingerprint) (seller_standards_policy_info)",
                      "{{app_id}}: {{name}} {{fingerprint}}")],
              kind="stat", w=6, h=6,
              description="Workers per policy they judge with (the fingerprint of its numbers; seller-standards "
                          "policy FILE prints a file's), by APP_ID: one per APP_ID, but during a change of the "
                          "policy (alert SellerStandardsPolicyMismatch)."),
    ]
    return dashboard("seller-standards-pipeline", "Seller standards: pipeline",
                     "Throughput, dead letters, stream clocks, latency, state writes.", panels)


def render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(build(), indent=2) + "\n"
            for name, build in (("fleet", fleet), ("pipeline", pipeline))}


def main(argv: list[str]) -> int:
    return write_or_check(DASHBOARDS, render(), "scripts/dashboards.py", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
