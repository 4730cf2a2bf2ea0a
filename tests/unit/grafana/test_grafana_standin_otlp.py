"""The Loki stand-in's OTLP logs endpoint maps OTLP to streams as Loki 3 does, and Tempo answers by trace id.

Loki 3's mapping (its documentation, "Ingesting logs to Loki using OpenTelemetry Collector"):
resource attributes of default_resource_attributes_as_index_labels become stream labels (dots to
underscores, service_name always there), everything else is structured metadata, the body is the
line (non-string bodies stringified as the collector's pdata does), the timestamp is timeUnixNano,
else observedTimeUnixNano.
"""

import base64
import gzip
import json
import time
import urllib.parse

import pytest

from tests.support.standins import grafana_standin as s
from tests.unit.grafana.test_grafana_standin import NS, http, otlp, span

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def attr(key, **value):
    return {"key": key, "value": value}


def logs(resource_attrs, records, scope=None):
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": resource_attrs},
                "scopeLogs": [{"scope": scope or {}, "logRecords": records}],
            }
        ]
    }


def record(body, ts=NS, **extra):
    doc = {"timeUnixNano": str(ts), "body": body}
    doc.update(extra)
    return doc


def only_entry(store):
    ((labels, entries),) = store.streams()
    ((ns, line, metadata),) = entries
    return labels, ns, line, metadata


def test_index_labels_and_structured_metadata_as_loki_maps_them():
    store = s.LokiStore()
    store.ingest_otlp(
        logs(
            [
                attr("service.name", stringValue="kafka"),
                attr("service.namespace", stringValue="dojo"),
                attr("deployment.environment.name", stringValue="lab"),
                attr("k8s.pod.name", stringValue="kafka-0"),
                attr("host.name", stringValue="broker"),
                attr("process.pid", intValue="4242"),
                attr("telemetry.sdk", kvlistValue={"values": [attr("name", stringValue="opentelemetry")]}),
            ],
            [
                record(
                    {"stringValue": "[KafkaServer id=1] started"},
                    observedTimeUnixNano=str(NS + 5),
                    severityNumber=9,
                    severityText="INFO",
                    traceId=TRACE.upper(),
                    spanId=SPAN,
                    flags=1,
                    attributes=[attr("thread.name", stringValue="main"), attr("code.lineno", intValue="42")],
                )
            ],
            scope={"name": "kafka.server.KafkaServer", "version": "4.3.1", "attributes": [attr("a.b", boolValue=True)]},
        )
    )
    labels, ns, line, metadata = only_entry(store)
    assert labels == {
        "service_name": "kafka",
        "service_namespace": "dojo",
        "deployment_environment_name": "lab",
        "k8s_pod_name": "kafka-0",
    }
    assert (ns, line) == (NS, "[KafkaServer id=1] started")
    assert metadata == {
        "host_name": "broker",
        "process_pid": "4242",
        "telemetry_sdk_name": "opentelemetry",  # maps are flattened with _
        "scope_name": "kafka.server.KafkaServer",
        "scope_version": "4.3.1",
        "a_b": "true",
        "thread_name": "main",
        "code_lineno": "42",
        "observed_timestamp": str(NS + 5),
        "severity_number": "9",
        "severity_text": "INFO",
        "flags": "1",
        "trace_id": TRACE,  # lower case hex
        "span_id": SPAN,
        "detected_level": "info",
    }


@pytest.mark.parametrize(
    ("resource", "service_name"),
    [
        ([], "unknown_service"),
        ([attr("host.name", stringValue="broker")], "unknown_service"),  # not an index label: not discovered
        ([attr("service.name", stringValue="")], "unknown_service"),
        ([attr("container.name", stringValue="kafka")], "kafka"),  # discovered from container_name
        ([attr("k8s.job.name", stringValue="j"), attr("k8s.container.name", stringValue="c")], "j"),  # first wins
        ([attr("container.name", stringValue="c"), attr("service.name", stringValue="kafka")], "kafka"),
    ],
)
def test_service_name_is_always_a_label(resource, service_name):
    store = s.LokiStore()
    store.ingest_otlp(logs(resource, [record({"stringValue": "x"})]))
    labels, _ns, _line, _metadata = only_entry(store)
    assert labels["service_name"] == service_name


def test_index_labels_are_configurable():
    store = s.LokiStore(["service.name", "host.name"])
    store.ingest_otlp(
        logs(
            [attr("service.name", stringValue="kafka"), attr("host.name", stringValue="broker")],
            [record({"stringValue": "x"})],
        )
    )
    assert only_entry(store)[0] == {"service_name": "kafka", "host_name": "broker"}
    with s.start_stack({"loki": {"default_resource_attributes_as_index_labels": ["k8s.pod.name"]}}) as stack:
        assert stack.loki.index_labels == ("k8s.pod.name",)
    with pytest.raises(ValueError, match="must be a list"):
        s.check_config({"loki": {"default_resource_attributes_as_index_labels": "service.name"}})


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ({"stringValue": "plain text"}, "plain text"),
        ({"intValue": "42"}, "42"),
        ({"intValue": 7}, "7"),
        ({"doubleValue": 1.5}, "1.5"),
        ({"doubleValue": 3.0}, "3"),
        ({"doubleValue": 1e21}, "1e+21"),
        ({"doubleValue": 1e20}, "100000000000000000000"),
        ({"doubleValue": 1.5e-7}, "1.5e-7"),
        ({"doubleValue": "NaN"}, "json: unsupported value: NaN"),
        ({"boolValue": False}, "false"),
        ({"bytesValue": "AAEC"}, "AAEC"),  # base64, as given
        (
            {
                "kvlistValue": {
                    "values": [
                        attr("msg", stringValue="<a&b>"),
                        attr("count", intValue="2"),
                        attr("ratio", doubleValue=0.5),
                        attr("nested", kvlistValue={"values": [attr("ok", boolValue=True)]}),
                    ]
                }
            },
            '{"count":2,"msg":"\\u003ca\\u0026b\\u003e","nested":{"ok":true},"ratio":0.5}',
        ),
        ({"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}, {"doubleValue": 2.0}]}}, '["a",1,2]'),
        ({}, ""),
    ],
)
def test_the_line_is_the_body_stringified_as_the_collector_does(body, line):
    store = s.LokiStore()
    store.ingest_otlp(logs([attr("service.name", stringValue="kafka")], [record(body)]))
    assert only_entry(store)[2] == line


def test_a_record_without_body_has_an_empty_line():
    store = s.LokiStore()
    store.ingest_otlp(logs([], [{"timeUnixNano": str(NS)}]))
    assert only_entry(store)[2] == ""


def test_timestamp_is_time_else_observed_time_else_now():
    store = s.LokiStore()
    before = time.time_ns()
    store.ingest_otlp(
        logs(
            [attr("service.name", stringValue="kafka")],
            [
                {"timeUnixNano": str(NS), "observedTimeUnixNano": str(NS + 9), "body": {"stringValue": "both"}},
                {"timeUnixNano": "0", "observedTimeUnixNano": str(NS + 1), "body": {"stringValue": "observed"}},
                {"body": {"stringValue": "neither"}},
            ],
        )
    )
    after = time.time_ns()
    ((_labels, entries),) = store.streams()
    stamps = {line: (ns, meta) for ns, line, meta in entries}
    assert stamps["both"][0] == NS
    assert stamps["both"][1]["observed_timestamp"] == str(NS + 9)
    assert stamps["observed"][0] == NS + 1
    assert "observed_timestamp" not in stamps["observed"][1]  # it is the timestamp already
    assert before <= stamps["neither"][0] <= after


@pytest.mark.parametrize(
    ("extra", "body", "level"),
    [
        ({"severityNumber": 17, "severityText": "SEVERE"}, "x", "error"),
        ({"severityNumber": "SEVERITY_NUMBER_WARN"}, "x", "warn"),
        ({"severityNumber": 5}, "x", "debug"),
        ({"severityNumber": 21}, "x", "fatal"),
        ({}, "an ERROR happened", "error"),
        ({}, 'level=warn msg="slow"', "warn"),
        ({}, '{"level": "debug", "msg": "x"}', "debug"),
        ({}, "nothing to see", "unknown"),
        ({"attributes": [attr("level", stringValue="notice")]}, "x", "notice"),
    ],
)
def test_detected_level(extra, body, level):
    store = s.LokiStore()
    store.ingest_otlp(logs([], [record({"stringValue": body}, **extra)]))
    assert only_entry(store)[3]["detected_level"] == level


@pytest.mark.parametrize(
    ("doc", "text"),
    [
        ([], "must be a JSON object"),
        ({"resourceLogs": {}}, '"resourceLogs" must be a list'),
        (logs([], [record({"stringValue": "x"}, traceId="xyz")]), "invalid traceId 'xyz'"),
        (logs([], [record({"stringValue": "x"}, spanId="00" * 4)]), "invalid spanId"),
        (logs([], [record({"intValue": "4.5"})]), "invalid intValue"),
        (logs([{"value": {}}], [record({"stringValue": "x"})]), "invalid resource attribute"),
    ],
)
def test_bad_otlp_is_refused_whole(doc, text):
    store = s.LokiStore()
    with pytest.raises(ValueError, match=text):
        store.ingest_otlp(doc)
    assert store.streams() == []


def test_an_all_zero_trace_id_is_no_trace_id():
    store = s.LokiStore()
    store.ingest_otlp(logs([], [record({"stringValue": "x"}, traceId="0" * 32, spanId="0" * 16)]))
    assert "trace_id" not in only_entry(store)[3]
    assert "span_id" not in only_entry(store)[3]


# ----------------------------------------------------------------------------- queries
@pytest.fixture
def kafka_logs():
    store = s.LokiStore()
    store.ingest_otlp(
        logs(
            [attr("service.name", stringValue="kafka")],
            [
                record({"stringValue": "started"}, NS + 1, severityNumber=9, severityText="INFO"),
                record({"stringValue": "produced"}, NS + 2, severityNumber=9, severityText="INFO", traceId=TRACE),
                record({"stringValue": "failed"}, NS + 3, severityNumber=17, severityText="ERROR"),
            ],
        )
    )
    return store


def lines(store, query, **kwargs):
    """The lines a log query returns, oldest first."""
    streams = store.query_logs(s.parse_logql(query), NS, NS + 10, 100, "forward", **kwargs)
    return [line for _ns, line in sorted((int(v[0]), v[1]) for stream in streams for v in stream["values"])]


def test_structured_metadata_joins_the_labels_of_query_results(kafka_logs):
    streams = kafka_logs.query_logs(s.parse_logql('{service_name="kafka"} |= "produced"'), NS, NS + 10, 100, "forward")
    assert streams == [
        {
            "stream": {
                "service_name": "kafka",
                "severity_number": "9",
                "severity_text": "INFO",
                "trace_id": TRACE,
                "detected_level": "info",
            },
            "values": [[str(NS + 2), "produced"]],
        }
    ]
    categorized = kafka_logs.query_logs(
        s.parse_logql('{service_name="kafka"} |= "produced"'), NS, NS + 10, 100, "forward", categorize=True
    )
    assert categorized[0]["stream"] == {"service_name": "kafka"}
    assert categorized[0]["values"][0][2]["structuredMetadata"]["trace_id"] == TRACE


def test_label_filters_see_structured_metadata_selectors_do_not(kafka_logs):
    assert lines(kafka_logs, '{service_name="kafka"}') == ["started", "produced", "failed"]
    assert lines(kafka_logs, '{service_name="kafka"} | detected_level="error"') == ["failed"]
    assert lines(kafka_logs, '{service_name="kafka"} | trace_id="%s"' % TRACE) == ["produced"]
    assert lines(kafka_logs, '{service_name="kafka"} | severity_text!="INFO" |= "fail"') == ["failed"]
    assert lines(kafka_logs, '{service_name="kafka"} | severity_text=~"INF.*"') == ["started", "produced"]
    assert lines(kafka_logs, '{service_name="kafka"} | detected_level == "info" != "start"') == ["produced"]
    assert lines(kafka_logs, '{trace_id="%s"}' % TRACE) == []  # not an index label
    assert kafka_logs.label_names() == ["service_name"]


def test_metric_queries_count_otlp_records(kafka_logs):
    expr = s.parse_logql('sum by (detected_level) (count_over_time({service_name="kafka"}[1m]))')
    assert kafka_logs.eval_metric(expr, NS + 5) == {
        (("detected_level", "info"),): 2.0,
        (("detected_level", "error"),): 1.0,
    }


def test_push_api_keeps_structured_metadata():
    store = s.LokiStore()
    store.push({"streams": [{"stream": {"job": "x"}, "values": [[str(NS), "hi", {"trace_id": TRACE}]]}]})
    assert lines(store, '{job="x"} | trace_id="%s"' % TRACE) == ["hi"]
    with pytest.raises(ValueError, match="structured metadata"):
        store.push({"streams": [{"stream": {"job": "x"}, "values": [[str(NS), "hi", "not an object"]]}]})


# ----------------------------------------------------------------------------- HTTP
@pytest.fixture
def stack():
    with s.start_stack({"loki": {}, "tempo": {"otlp_listen": "127.0.0.1:0"}}) as running:
        yield running


KAFKA_LOG = logs(
    [attr("service.name", stringValue="kafka")],
    [record({"stringValue": "hello over http"}, severityText="INFO", severityNumber=9, traceId=TRACE, spanId=SPAN)],
)


def test_otlp_endpoint_ingests_json_and_gzip(stack):
    url = stack.loki_url + "/otlp/v1/logs"
    assert http("POST", url, KAFKA_LOG) == (204, "")
    zipped = gzip.compress(json.dumps(KAFKA_LOG).encode())
    headers = {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"}
    assert http("POST", url, zipped, headers) == (204, "")
    query = urllib.parse.urlencode({"query": '{service_name="kafka"}', "start": str(NS - 1), "end": str(NS + 1)})
    status, body = http("GET", stack.loki_url + "/loki/api/v1/query_range?" + query)
    assert status == 200
    (stream,) = json.loads(body)["data"]["result"]
    assert stream["stream"]["trace_id"] == TRACE
    assert [v[1] for v in stream["values"]] == ["hello over http"] * 2
    status, body = http(
        "GET",
        stack.loki_url + "/loki/api/v1/query_range?" + query,
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = json.loads(body)["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    assert data["result"][0]["stream"] == {"service_name": "kafka"}
    assert data["result"][0]["values"][0][2]["structuredMetadata"]["span_id"] == SPAN


def test_otlp_endpoint_refuses_protobuf_and_bad_json(stack):
    url = stack.loki_url + "/otlp/v1/logs"
    status, body = http("POST", url, b"\x0a\x00", {"Content-Type": "application/x-protobuf"})
    assert status == 415
    assert "encoding: json" in body
    assert "application/x-protobuf" in body
    status, body = http("POST", url, b"{not json")
    assert status == 400
    assert "Expecting property name" in body
    for broken in (b"\x1f\x8b not gzip", gzip.compress(b"{}")[:12] + b"\xff" * 8, gzip.compress(b"{}")[:-4]):
        status, body = http("POST", url, broken, {"Content-Encoding": "gzip"})
        assert (status, body.split(":")[0]) == (400, "cannot read the gzip body"), body
    status, body = http("POST", stack.tempo_otlp_url + "/v1/traces", b"\x1f\x8b no", {"Content-Encoding": "gzip"})
    assert (status, body.split(":")[0]) == (400, "cannot read the gzip body")
    status, body = http("POST", url, logs([], [record({"stringValue": "x"}, traceId="nothex")]))
    assert (status, body) == (400, "invalid traceId 'nothex': OTLP/JSON needs 32 hex digits\n")
    assert stack.loki.streams() == []
    assert http("GET", url)[0] == 405  # push endpoints take POST only


def test_tempo_without_the_v2_api_answers_like_an_old_tempo():
    with s.start_stack({"tempo": {"api_v2_traces": False}}) as stack:
        stack.tempo.ingest_otlp(otlp("33" * 16, [span("33" * 16, "c1" * 8, "p", NS, 1)]))
        assert http("GET", stack.tempo_url + "/api/v2/traces/" + "33" * 16) == (404, "404 page not found\n")
        status, body = http("GET", stack.tempo_url + "/api/traces/" + "33" * 16)
        assert status == 200
        assert json.loads(body)["batches"][0]["scopeSpans"][0]["spans"][0]["name"] == "p"


def test_tempo_shows_a_resent_span_once_and_stores_nothing_of_a_bad_request():
    store = s.TempoStore()
    body = otlp("33" * 16, [span("33" * 16, "c1" * 8, "p", NS, 1)])
    assert store.ingest_otlp(body) == 1
    assert store.ingest_otlp(body) == 0
    assert len(store.get("33" * 16).spans) == 1
    bad = otlp("44" * 16, [span("44" * 16, "d1" * 8, "ok", NS, 1), span("44" * 16, "zz", "bad", NS, 1)])
    with pytest.raises(ValueError, match="invalid id"):
        store.ingest_otlp(bad)
    assert store.get("44" * 16) is None


def test_tempo_answers_ids_in_base64_and_enum_names():
    store = s.TempoStore()
    child = span("33" * 16, "c2" * 8, "fail child", NS, 1, parent="c1" * 8)
    child["links"] = [{"traceId": "55" * 16, "spanId": "e1" * 8}]
    store.ingest_otlp(otlp("33" * 16, [span("33" * 16, "c1" * 8, "root", NS, 2), child]))
    root, answered = store.get("33" * 16).otlp()[0]["scopeSpans"][0]["spans"]
    assert answered["parentSpanId"] == base64.b64encode(bytes.fromhex("c1" * 8)).decode()
    assert answered["status"] == {"code": "STATUS_CODE_ERROR"}
    assert root["status"] == {}  # unset: jsonpb leaves zero values out
    assert base64.b64decode(answered["links"][0]["traceId"]).hex() == "55" * 16
