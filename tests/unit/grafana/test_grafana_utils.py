"""Pure helpers of plugins/module_utils/grafana.py: times, durations, PromQL, normalisation, redaction."""

import math

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana as g

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        (90, 90.0),
        (2.5, 2.5),
        ("1m30s", 90.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("250ms", 0.25),
        ("1d", 86400.0),
    ],
)
def test_parse_duration_accepts_prometheus_style(text, seconds):
    assert g.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "5x", True, "1h-5m"])
def test_parse_duration_rejects_garbage_with_one_sentence(text):
    with pytest.raises(g.GrafanaError) as info:
        g.parse_duration(text, "since")
    assert info.value.kind == "invalid_argument"
    assert info.value.msg.startswith("since: ")
    assert "duration such as 30s, 5m or 1h" in info.value.msg


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("now", NOW),
        ("now-5m", NOW - 300),
        ("now + 1h", NOW + 3600),
        ("-10m", NOW - 600),
        (1_600_000_000, 1_600_000_000.0),
        ("1600000000.5", 1_600_000_000.5),
        (1_600_000_000_000, 1_600_000_000.0),  # milliseconds
        ("1600000000000000000", 1_600_000_000.0),  # nanoseconds
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20.123456789+00:00", 1_700_000_000.123456),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
    ],
)
def test_parse_time_formats(value, expected):
    result = g.parse_time(value, NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1e-6)


def test_parse_time_rejects_garbage():
    with pytest.raises(g.GrafanaError) as info:
        g.parse_time("yesterday", NOW, "start")
    assert info.value.kind == "invalid_argument"
    assert "start: 'yesterday' is not a time" in info.value.msg


def test_iso_from_ns_keeps_nanoseconds():
    assert g.iso_from_ns(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert g.iso_from_seconds(1_700_000_000.5) == "2023-11-14T22:13:20.500000000Z"


def test_kafka_metric_queries_use_the_otel_jmx_names():
    assert g.kafka_metric_query("messages") == "sum(kafka_message_count_total)"
    assert g.kafka_metric_query("produce_requests") == 'sum(kafka_request_count_total{type="produce"})'
    assert g.kafka_metric_query("fetch_requests") == 'sum(kafka_request_count_total{type="fetch"})'
    assert (
        g.kafka_metric_query("fetch_requests", {"job": "kafka", "instance": 'a"b'})
        == 'sum(kafka_request_count_total{instance="a\\"b",job="kafka",type="fetch"})'
    )
    with pytest.raises(g.GrafanaError, match="is not one of"):
        g.kafka_metric_query("bytes")


def test_kafka_metric_choices_come_from_the_table_and_the_docs_list_them():
    import importlib

    import yaml

    assert g.query_argument_spec()["kafka_metric"]["choices"] == list(g.KAFKA_METRICS)
    for module in ("grafana_query", "grafana_assert"):
        mod = importlib.import_module("ansible_collections.dojo.kafka_observability.plugins.modules." + module)
        documented = yaml.safe_load(mod.DOCUMENTATION)["options"].get("kafka_metric")
        if documented is None:  # documented by the shared doc fragment
            from ansible_collections.dojo.kafka_observability.plugins.doc_fragments import grafana as fragment

            documented = yaml.safe_load(fragment.ModuleDocFragment.KAFKA_METRIC)["options"]["kafka_metric"]
        assert documented["choices"] == list(g.KAFKA_METRICS), module


def test_normalize_prometheus_vector_sums_values():
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"type": "produce"}, "value": [1700000000.1, "3"]},
            {"metric": {"type": "fetch"}, "value": [1700000000.1, "4.5"]},
        ],
    }
    out = g.normalize_prometheus(data)
    assert out["result_type"] == "vector"
    assert out["count"] == 2
    assert out["value"] == 7.5
    assert out["series"][0] == {
        "labels": {"type": "produce"},
        "value": 3.0,
        "timestamp": 1700000000.1,
        "values": [[1700000000.1, 3.0]],
    }


def test_normalize_prometheus_matrix_scalar_and_empty():
    matrix = g.normalize_prometheus(
        {"resultType": "matrix", "result": [{"metric": {"a": "b"}, "values": [[1, "1"], [2, "NaN"], [3, "+Inf"]]}]}
    )
    assert matrix["series"][0]["values"] == [[1.0, 1.0], [2.0, "NaN"], [3.0, "+Inf"]]
    assert matrix["series"][0]["value"] == "+Inf"
    assert matrix["value"] is None  # no finite last value to add up
    scalar = g.normalize_prometheus({"resultType": "scalar", "result": [5, "42"]})
    assert scalar["value"] == 42.0
    assert scalar["series"][0]["labels"] == {}
    empty = g.normalize_prometheus({"resultType": "vector", "result": []})
    assert empty["value"] is None
    assert empty["count"] == 0
    with pytest.raises(g.GrafanaError):
        g.normalize_prometheus({"resultType": "weird", "result": []})


def test_json_number():
    assert g.json_number(1.5) == 1.5
    assert g.json_number(math.nan) == "NaN"
    assert g.json_number(-math.inf) == "-Inf"
    assert g.json_number(None) is None


def test_normalize_loki_streams_newest_first():
    data = {
        "resultType": "streams",
        "result": [
            {"stream": {"container": "kafka"}, "values": [["1700000000000000002", "b"], ["1700000000000000001", "a"]]},
            {"stream": {"container": "cadvisor"}, "values": [["1700000000000000003", "c", {"trace_id": "x"}]]},
        ],
    }
    out = g.normalize_loki(data, "backward")
    assert [line["line"] for line in out["lines"]] == ["c", "b", "a"]
    assert out["lines"][0] == {
        "labels": {"container": "cadvisor"},
        "timestamp": "2023-11-14T22:13:20.000000003Z",
        "timestamp_ns": 1700000000000000003,
        "line": "c",
        "metadata": {"trace_id": "x"},
    }
    assert [line["line"] for line in g.normalize_loki(data, "forward")["lines"]] == ["a", "b", "c"]
    metric = g.normalize_loki({"resultType": "vector", "result": [{"metric": {}, "value": [1, "7"]}]})
    assert metric["value"] == 7.0


def test_normalize_tempo():
    doc = {
        "traces": [
            {
                "traceID": "abc",
                "rootServiceName": "kafka",
                "rootTraceName": "publish",
                "startTimeUnixNano": "1700000000000000000",
                "durationMs": 12,
                "spanSets": [{"matched": 2}, {"matched": 1}],
            },
            {"traceID": "def", "rootServiceName": "<root span not yet received>", "spanSet": {"matched": 1}},
        ]
    }
    out = g.normalize_tempo(doc)
    assert out["count"] == 2
    assert out["traces"][0] == {
        "trace_id": "abc",
        "root_service": "kafka",
        "root_name": "publish",
        "start": "2023-11-14T22:13:20.000000000Z",
        "start_unix_nano": 1700000000000000000,
        "duration_ms": 12,
        "matched_spans": 3,
    }
    assert out["traces"][1]["start"] is None
    assert out["traces"][1]["matched_spans"] == 1


def test_logfmt_quotes_what_needs_it():
    assert g.logfmt({"service.name": "kafka", "name": "a b", "x": 'q"'}) == 'name="a b" service.name=kafka x="q\\""'


def test_client_redacts_token_password_and_basic_pair():
    client = g.GrafanaClient({"grafana_url": "http://h:3000", "grafana_user": "admin", "grafana_password": "s3cr3t-pw"})
    basic = client._headers()["Authorization"].split()[1]
    assert client.redact("pw s3cr3t-pw and %s" % basic) == "pw ******** and ********"
    client = g.GrafanaClient({"grafana_url": "http://h:3000/", "grafana_token": "glsa_tok", "org_id": 2})
    headers = client._headers()
    assert headers["Authorization"] == "Bearer glsa_tok"
    assert headers["X-Grafana-Org-Id"] == "2"
    assert client.base == "http://h:3000"
    assert client.redact("the glsa_tok leaked") == "the ******** leaked"


def test_client_rejects_a_url_without_scheme_and_hides_userinfo():
    with pytest.raises(g.GrafanaError) as info:
        g.GrafanaClient({"grafana_url": "grafana:3000"})
    assert info.value.kind == "invalid_argument"
    client = g.GrafanaClient({"grafana_url": "https://user:pw@grafana.example:3000"})
    assert client.display == "https://grafana.example:3000"


def test_clean_datasource_drops_secrets():
    ds = {"uid": "a", "password": "x", "basicAuthPassword": "y", "secureJsonData": {"k": "v"}, "basicAuth": True}
    assert g.clean_datasource(ds) == {"uid": "a", "basicAuth": True}


def test_argument_spec_marks_secrets_no_log():
    spec = g.grafana_argument_spec()
    assert spec["grafana_token"]["no_log"] is True
    assert spec["grafana_password"]["no_log"] is True
    assert spec["validate_certs"]["default"] is True
