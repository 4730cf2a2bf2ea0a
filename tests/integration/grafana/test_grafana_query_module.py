"""grafana_datasource_info and grafana_query through real Ansible, Grafana stand-in -> REAL Prometheus."""

import time

from tests.integration.grafana.grafana_helpers import push_logs, push_trace, run
from tests.support.prometheus import wait_for


def test_datasource_info_lists_one_org_and_finds_by_name_uid_and_type(conn, grafana):
    listed = run("grafana_datasource_info", conn)
    assert not listed.failed, listed.result
    names = [d["name"] for d in listed.result["datasources"]]
    assert names == ["Thanos", "Loki", "Tempo", "Prometheus down", "Prometheus slow", "Elastic"]
    assert listed.result["count"] == 6
    assert listed.result["changed"] is False
    by_name = run("grafana_datasource_info", dict(conn, name="Loki"))
    assert by_name.result["datasource"]["uid"] == "loki"
    assert by_name.result["datasource"]["url"] == grafana.loki_url
    by_uid = run("grafana_datasource_info", dict(conn, uid="thanos", type="prometheus"), check=True)
    assert by_uid.result["datasource"]["name"] == "Thanos"
    only_prom = run("grafana_datasource_info", dict(conn, type="prometheus"))
    assert [d["uid"] for d in only_prom.result["datasources"]] == ["thanos", "down", "slow"]
    wrong = run("grafana_datasource_info", dict(conn, name="Loki", type="prometheus"))
    assert wrong.failed
    assert wrong.result["msg"] == "Datasource 'Loki' is of type 'loki', not 'prometheus'."


def test_promql_instant_with_kafka_metric_matches_what_prometheus_scraped(conn, kafka_target, prometheus):
    produced = kafka_target.inc("kafka_request_count_total", {"type": "produce"}, by=7)
    wait_for(
        lambda: prometheus.value('kafka_request_count_total{type="produce"}') == produced,
        timeout=20,
        what="Prometheus to scrape the produce counter",
    )
    r = run("grafana_query", dict(conn, datasource="Thanos", kafka_metric="produce_requests"))
    assert not r.failed, r.result
    assert r.result["query"] == 'sum(kafka_request_count_total{type="produce"})'
    assert r.result["language"] == "promql"
    assert r.result["result_type"] == "vector"
    assert r.result["value"] == produced
    assert r.result["count"] == 1
    assert r.result["datasource"] == {"uid": "thanos", "name": "Thanos", "type": "prometheus", "id": 1}
    labelled = run(
        "grafana_query",
        dict(conn, datasource_uid="thanos", kafka_metric="produce_requests", kafka_labels={"job": "nope"}),
    )
    assert labelled.result["query"] == 'sum(kafka_request_count_total{job="nope",type="produce"})'
    assert labelled.result["value"] is None  # sum() over nothing: no series
    series = run("grafana_query", dict(conn, datasource="Thanos", query="kafka_request_count_total"))
    by_type = {s["labels"]["type"]: s["value"] for s in series.result["series"]}
    assert by_type["produce"] == produced
    assert series.result["series"][0]["labels"]["job"] == "kafka"
    assert series.result["series"][0]["labels"]["__name__"] == "kafka_request_count_total"


def test_promql_range_returns_points_over_time(conn, prometheus):
    wait_for(
        lambda: (
            len(prometheus.api("/api/v1/query", {"query": "kafka_partition_count[10s]"})["data"]["result"][0]["values"])
            >= 3
        ),
        timeout=30,
        what="three samples of kafka_partition_count",
    )
    r = run(
        "grafana_query",
        dict(conn, datasource="Thanos", query="kafka_partition_count", query_type="range", since="15s", step="1s"),
    )
    assert not r.failed, r.result
    assert r.result["result_type"] == "matrix"
    assert r.result["step"] == 1
    values = r.result["series"][0]["values"]
    assert len(values) >= 3
    assert all(v == 3.0 for _ts, v in values)
    assert values == sorted(values)
    assert r.result["start"] < r.result["end"]


def test_promql_scalar_and_check_mode(conn):
    r = run("grafana_query", dict(conn, datasource="Thanos", query="scalar(kafka_partition_count) * 2"), check=True)
    assert not r.failed, r.result
    assert r.result["result_type"] == "scalar"
    assert r.result["value"] == 6.0
    assert r.result["changed"] is False


def test_logql_lines_with_labels_and_timestamps(conn, grafana):
    push_logs(
        grafana.loki_url, {"container": "kafka", "job": "query-test"}, ["first message", "second message", "noise"]
    )
    r = run("grafana_query", dict(conn, datasource="Loki", query='{job="query-test"} |= "message"', since="5m"))
    assert not r.failed, r.result
    assert r.result["language"] == "logql"
    assert r.result["result_type"] == "streams"
    assert [line["line"] for line in r.result["lines"]] == ["second message", "first message"]
    first = r.result["lines"][1]
    assert first["labels"] == {"container": "kafka", "job": "query-test"}
    assert first["timestamp"].endswith("Z")
    assert abs(first["timestamp_ns"] / 1e9 - time.time()) < 300
    oldest = run(
        "grafana_query",
        dict(conn, datasource="Loki", query='{job="query-test"}', direction="forward", limit=1),
    )
    assert [line["line"] for line in oldest.result["lines"]] == ["first message"]


def test_logql_metric_query_is_a_series(conn, grafana):
    push_logs(grafana.loki_url, {"job": "metric-test"}, ["a", "b", "c", "d"])
    r = run("grafana_query", dict(conn, datasource="Loki", query='sum(count_over_time({job="metric-test"}[5m]))'))
    assert not r.failed, r.result
    assert r.result["query_type"] == "instant"
    assert r.result["value"] == 4.0


def test_traceql_and_tag_search_return_traces(conn, grafana):
    trace_id = push_trace(grafana.tempo_otlp_url, "kafka-query-test", "notifications publish", duration_ms=12)
    r = run("grafana_query", dict(conn, datasource="Tempo", query='{ resource.service.name = "kafka-query-test" }'))
    assert not r.failed, r.result
    assert r.result["language"] == "traceql"
    assert r.result["count"] == 1
    trace = r.result["traces"][0]
    assert trace["trace_id"] == trace_id
    assert trace["root_service"] == "kafka-query-test"
    assert trace["root_name"] == "notifications publish"
    assert trace["duration_ms"] == 12
    assert trace["start"].endswith("Z")
    tags = run("grafana_query", dict(conn, datasource="Tempo", tags={"service.name": "kafka-query-test"}))
    assert [t["trace_id"] for t in tags.result["traces"]] == [trace_id]
    assert tags.result["tags"] == {"service.name": "kafka-query-test"}
    old = run(
        "grafana_query",
        dict(conn, datasource="Tempo", query='{ resource.service.name = "kafka-query-test" }', end="now-1h"),
    )
    assert old.result["count"] == 0


def test_the_grafana_action_group_carries_the_connection(conn, tmp_path):
    """module_defaults: group/dojo.kafka_observability.grafana (meta/runtime.yml) sets the connection once."""
    from tests.integration.grafana.grafana_helpers import play

    playbook_tasks = [
        {
            "module_defaults": {
                "group/dojo.kafka_observability.grafana": {
                    "grafana_url": conn["grafana_url"],
                    "grafana_token": "{{ lookup('ansible.builtin.env', 'DOJO_TOKEN') }}",
                }
            },
            "block": [
                {"dojo.kafka_observability.grafana_datasource_info": {"name": "Thanos"}, "register": "info"},
                {
                    "dojo.kafka_observability.grafana_query": {"datasource": "Thanos", "kafka_metric": "partitions"},
                    "register": "partitions",
                },
                {
                    "dojo.kafka_observability.grafana_assert": {
                        "datasource": "Thanos",
                        "condition": "threshold",
                        "kafka_metric": "partitions",
                        "operator": "==",
                        "threshold": 3,
                        "timeout": 10,
                    }
                },
                {"ansible.builtin.assert": {"that": ["info.datasource.uid == 'thanos'", "partitions.value == 3"]}},
            ],
        }
    ]
    proc = play(tmp_path, playbook_tasks, env={"DOJO_TOKEN": conn["grafana_token"]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok=4" in proc.stdout
