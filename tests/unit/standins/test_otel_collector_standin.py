"""OpenTelemetry-collector stand-in: protobuf decoding (a real Tansu payload), Prometheus naming
and exposition (checked by promtool), the OTLP/HTTP contract, forwarding of traces and logs."""

import gzip
import json
import math
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.standins import otel_collector_standin as otel
from tests.unit.standins.standin_helpers import (
    FIXTURES,
    pb_double,
    pb_fixed32,
    pb_fixed64,
    pb_kv,
    pb_len,
    pb_sfixed64,
    pb_uvarint,
    promtool_check_metrics,
)

TANSU_PAYLOAD = FIXTURES / "tansu-0.6.0-v1-metrics.pb"


def _metrics_by_name(doc):
    out = {}
    for rm in doc["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for metric in sm["metrics"]:
                out[metric["name"]] = (sm["scope"], metric)
    return out


def _samples(text):
    """{(name, frozenset(labels)): value} of an exposition (test-side parser)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        assert match, "unparsable sample line: {0!r}".format(line)
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


def _find(samples, name, **labels):
    hits = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(hits) == 1, "{0}{1}: {2} matches".format(name, labels, len(hits))
    return hits[0]


# ------------------------------------------------------------------ decoding a real Tansu payload
def test_decode_real_tansu_payload():
    doc = otel.decode_request("metrics", TANSU_PAYLOAD.read_bytes())
    (rm,) = doc["resourceMetrics"]
    assert otel.attributes(rm["resource"]["attributes"]) == {"service.name": "tansu-broker"}
    metrics = _metrics_by_name(doc)
    scope, api = metrics["tansu_api_requests"]
    assert scope == {"name": "tansu-service", "version": "0.6.0"}
    assert api["sum"]["isMonotonic"] is True
    assert api["sum"]["aggregationTemporality"] == 2
    # api_key/api_version are integer attributes (Produce = 0)
    produce = [p for p in api["sum"]["dataPoints"] if otel.attributes(p["attributes"])["api_key"] == 0]
    assert len(produce) == 1
    assert int(produce[0]["asInt"]) >= 1
    assert int(produce[0]["timeUnixNano"]) > int(produce[0]["startTimeUnixNano"]) > 1.7e18

    _scope, duration = metrics["tansu_request_duration"]
    assert duration["unit"] == "ms"
    (point,) = duration["histogram"]["dataPoints"]
    assert len(point["bucketCounts"]) == len(point["explicitBounds"]) + 1
    assert sum(int(c) for c in point["bucketCounts"]) == int(point["count"]) > 0
    assert point["explicitBounds"] == sorted(point["explicitBounds"])
    assert {"tansu_bytes_received", "tansu_bytes_sent", "tansu_request_size", "tansu_response_size"} <= set(metrics)
    assert "tansu_group_coordinator_requests" in metrics


def test_tansu_payload_exposition_is_what_the_collector_exports_and_parses_with_promtool():
    store = otel.MetricStore()
    assert store.ingest(otel.decode_request("metrics", TANSU_PAYLOAD.read_bytes())) > 20
    text = store.render()
    assert "# TYPE tansu_api_requests_total counter" in text
    assert "# HELP tansu_api_requests_total The number of API requests made" in text
    assert "# TYPE tansu_request_duration_milliseconds histogram" in text
    assert "# TYPE tansu_bytes_received_total counter" in text
    assert "# TYPE tansu_request_size_bytes histogram" in text
    samples = _samples(text)
    produce = _find(samples, "tansu_api_requests_total", api_key="0", job="tansu-broker")
    assert produce >= 1
    labels = next(ls for (n, ls) in samples if n == "tansu_api_requests_total")
    assert dict(labels)["otel_scope_name"] == "tansu-service"
    assert dict(labels)["otel_scope_version"] == "0.6.0"
    assert "instance" not in dict(labels)  # Tansu sets no service.instance.id
    count = _find(samples, "tansu_request_duration_milliseconds_count")
    assert _find(samples, "tansu_request_duration_milliseconds_bucket", le="+Inf") == count
    bucket_name = "tansu_request_duration_milliseconds_bucket"
    buckets = sorted((float(dict(ls)["le"]), v) for (n, ls), v in samples.items() if n == bucket_name)
    assert [v for _le, v in buckets] == sorted(v for _le, v in buckets)  # cumulative
    assert "target_info" not in text  # no instance -> no target_info, like the exporter

    rc, output = promtool_check_metrics(text)
    problems = [line for line in output.splitlines() if line.strip()]
    # the only complaints are promtool's naming lint on Tansu's own "ms" unit, which the real
    # collector exports under the same names; anything else (a parse error) fails
    assert all(re.fullmatch(r'\S+ use base unit "seconds" instead of "milliseconds"', p) for p in problems), output
    assert rc in (0, 3), output


def test_lint_clean_exposition_passes_promtool():
    store = otel.MetricStore()
    store.ingest(
        {
            "resourceMetrics": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "svc"}},
                            {"key": "service.instance.id", "value": {"stringValue": "i-1"}},
                            {"key": "host.name", "value": {"stringValue": "broker"}},
                        ]
                    },
                    "scopeMetrics": [
                        {
                            "scope": {"name": "s"},
                            "metrics": [
                                {
                                    "name": "http.server.duration",
                                    "unit": "s",
                                    "description": 'a "quoted"\nhelp',
                                    "histogram": {
                                        "aggregationTemporality": 2,
                                        "dataPoints": [
                                            {
                                                "attributes": [{"key": "path", "value": {"stringValue": 'a"b\\c'}}],
                                                "timeUnixNano": "2",
                                                "count": "3",
                                                "sum": 0.75,
                                                "bucketCounts": ["1", "1", "1"],
                                                "explicitBounds": [0.1, 0.5],
                                            }
                                        ],
                                    },
                                },
                                {
                                    "name": "queue.size",
                                    "unit": "{items}",
                                    "description": "items waiting",
                                    "gauge": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": "2"}]},
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )
    text = store.render()
    rc, output = promtool_check_metrics(text)
    assert rc == 0, output + text
    samples = _samples(text)
    assert _find(samples, "target_info", job="svc", instance="i-1", host_name="broker") == 1
    assert _find(samples, "http_server_duration_seconds_bucket", le="0.5") == 2
    assert _find(samples, "http_server_duration_seconds_bucket", le="+Inf") == 3
    assert _find(samples, "http_server_duration_seconds_sum") == 0.75
    assert _find(samples, "queue_size", job="svc", instance="i-1") == 1.5
    assert 'path="a\\"b\\\\c"' in text
    assert '# HELP http_server_duration_seconds a "quoted"\\nhelp' in text


# ------------------------------------------------------------------ the wire decoder on crafted messages
def _number_point(attrs=b"", **fields):
    body = attrs
    if "start" in fields:
        body += pb_fixed64(2, fields["start"])
    if "time" in fields:
        body += pb_fixed64(3, fields["time"])
    if "as_double" in fields:
        body += pb_double(4, fields["as_double"])
    if "as_int" in fields:
        body += pb_sfixed64(6, fields["as_int"])
    return body


def _request(*metrics, resource=b"", scope=b""):
    scope_metrics = pb_len(1, scope) + b"".join(pb_len(2, m) for m in metrics)
    resource_metrics = pb_len(1, resource) + pb_len(2, scope_metrics)
    return pb_len(1, resource_metrics)


def test_decoder_handles_scalars_packed_and_unpacked_repeats_and_unknown_fields():
    gauge = pb_len(1, "temp") + pb_len(3, "Cel") + pb_len(5, pb_len(1, _number_point(time=5, as_double=-2.5)))
    neg_sum = (
        pb_len(1, "delta.counter")
        + pb_len(7, pb_len(1, _number_point(pb_len(7, pb_kv("k", integer=-3)), time=6, as_int=-7)) + pb_uvarint(2, 1))
        + pb_uvarint(99, 12345)  # unknown varint field: skipped
        + pb_len(98, b"\x00\x01")  # unknown length-delimited field: skipped
        + pb_fixed32(97, 1)  # unknown 32-bit field: skipped
    )
    # explicitBounds unpacked (one double per key) and bucketCounts packed
    hist_point = (
        pb_fixed64(4, 3)
        + pb_double(5, 1.0)
        + pb_len(6, b"".join(v.to_bytes(8, "little") for v in (1, 2)))
        + pb_double(7, 0.5)
    )
    hist = pb_len(1, "h") + pb_len(9, pb_len(1, hist_point) + pb_uvarint(2, 2))
    summary_point = pb_fixed64(4, 10) + pb_double(5, 20.0) + pb_len(6, pb_double(1, 0.5) + pb_double(2, 1.5))
    summary = pb_len(1, "lat") + pb_len(11, pb_len(1, summary_point))
    resource = pb_len(1, pb_kv("service.name", string="svc")) + pb_len(1, pb_kv("pid", integer=42))
    doc = otel.decode_request("metrics", _request(gauge, neg_sum, hist, summary, resource=resource))
    metrics = _metrics_by_name(doc)
    assert metrics["temp"][1]["gauge"]["dataPoints"] == [{"timeUnixNano": "5", "asDouble": -2.5}]
    point = metrics["delta.counter"][1]["sum"]["dataPoints"][0]
    assert point["asInt"] == "-7"
    assert otel.attributes(point["attributes"]) == {"k": -3}
    assert metrics["delta.counter"][1]["sum"]["aggregationTemporality"] == 1
    hp = metrics["h"][1]["histogram"]["dataPoints"][0]
    assert hp["bucketCounts"] == ["1", "2"]
    assert hp["explicitBounds"] == [0.5]
    assert metrics["lat"][1]["summary"]["dataPoints"][0]["quantileValues"] == [{"quantile": 0.5, "value": 1.5}]
    assert otel.attributes(doc["resourceMetrics"][0]["resource"]["attributes"]) == {"service.name": "svc", "pid": 42}


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\x05abc",  # length runs past the end
        b"\x0a",  # truncated length
        b"\x0b",  # wire type 3 (group)
        b"\x00",  # field number 0
        b"\x0a\x02\x0a\x80",  # nested: truncated varint
    ],
)
def test_decoder_rejects_malformed_bodies(body):
    with pytest.raises(otel.DecodeError):
        otel.decode_request("metrics", body)


def test_decoder_rejects_wire_type_mismatch():
    with pytest.raises(otel.DecodeError, match="expected a message"):
        otel.decode_request("metrics", pb_uvarint(1, 5))


def test_traces_decode_to_otlp_json_with_hex_ids():
    trace_id = bytes(range(16))
    span_id = bytes(range(8))
    span = (
        pb_len(1, trace_id)
        + pb_len(2, span_id)
        + pb_len(5, "produce notifications")
        + pb_uvarint(6, 3)
        + pb_fixed64(7, 1_000)
        + pb_fixed64(8, 2_000)
        + pb_len(9, pb_kv("messaging.system", string="kafka"))
        + pb_len(15, pb_len(2, "boom") + pb_uvarint(3, 2))
        + pb_fixed32(16, 1)
    )
    scope_spans = pb_len(1, pb_len(1, "scope")) + pb_len(2, span)
    resource_spans = pb_len(1, pb_len(1, pb_kv("service.name", string="app"))) + pb_len(2, scope_spans)
    doc = otel.decode_request("traces", pb_len(1, resource_spans))
    decoded = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert decoded == {
        "traceId": trace_id.hex(),
        "spanId": span_id.hex(),
        "name": "produce notifications",
        "kind": 3,
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
        "attributes": [{"key": "messaging.system", "value": {"stringValue": "kafka"}}],
        "status": {"message": "boom", "code": 2},
        "flags": 1,
    }


# ------------------------------------------------------------------ naming (otlptranslator rules)
@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("system.filesystem.usage", "By", "gauge", "system_filesystem_usage_bytes"),
        ("system.network.dropped", "{packets}", "counter", "system_network_dropped_total"),
        ("system.network.dropped", "packets", "gauge", "system_network_dropped_packets"),
        ("system.memory.utilization", "1", "gauge", "system_memory_utilization_ratio"),
        ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
        ("speed", "m/s", "gauge", "speed_meters_per_second"),
        ("(lambda).function.executions(#)", "", "gauge", "lambda_function_executions"),
        ("requests.total", "", "counter", "requests_total"),
        ("tansu_api_requests", "", "counter", "tansu_api_requests_total"),
        ("tansu_request_duration", "ms", "histogram", "tansu_request_duration_milliseconds"),
        # the JMX Kafka target names the tutorial's Grafana shows (notes/facts.md)
        ("kafka.message.count", "{messages}", "counter", "kafka_message_count_total"),
        ("kafka.request.time.total", "ms", "counter", "kafka_request_time_milliseconds_total"),
        ("kafka.network.io", "By", "counter", "kafka_network_io_bytes_total"),
        ("kafka.partition.count", "{partitions}", "gauge", "kafka_partition_count"),
        ("2xx.requests", "", "gauge", "_2xx_requests"),
    ],
)
def test_metric_names_follow_the_collector(name, unit, kind, expected):
    assert otel.metric_name(name, unit, kind) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [("http.method", "http_method"), ("api_key", "api_key"), ("2fa", "key_2fa"), ("_x", "key_x"), ("a-b", "a_b")],
)
def test_label_names(key, expected):
    assert otel.label_name(key) == expected


# ------------------------------------------------------------------ accumulation and expiry
def _sum_request(value, temporality, monotonic=True, time_ns=1, name="c"):
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": name,
                                "sum": {
                                    "aggregationTemporality": temporality,
                                    "isMonotonic": monotonic,
                                    "dataPoints": [{"asInt": str(value), "timeUnixNano": str(time_ns)}],
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }


def test_delta_counters_accumulate_and_cumulative_ones_replace():
    store = otel.MetricStore()
    store.ingest(_sum_request(3, 1, time_ns=1))
    store.ingest(_sum_request(4, "AGGREGATION_TEMPORALITY_DELTA", time_ns=2))
    assert _find(_samples(store.render()), "c_total") == 7
    store.ingest(_sum_request(10, 2, time_ns=3, name="cum"))
    store.ingest(_sum_request(12, 2, time_ns=4, name="cum"))
    store.ingest(_sum_request(11, 2, time_ns=3, name="cum"))  # older point arriving late: ignored
    assert _find(_samples(store.render()), "cum_total") == 12


def test_delta_updown_counters_are_dropped_and_cumulative_ones_are_gauges():
    store = otel.MetricStore()
    store.ingest(_sum_request(5, 1, monotonic=False, name="delta_updown"))
    store.ingest(_sum_request(-5, 2, monotonic=False, name="updown"))
    text = store.render()
    assert "delta_updown" not in text
    assert "# TYPE updown gauge" in text
    assert _find(_samples(text), "updown") == -5
    assert store.status()["dropped_points"] == 1


def test_series_expire_after_metric_expiration():
    now = [1000.0]
    store = otel.MetricStore(expiration=300, clock=lambda: now[0])
    store.ingest(_sum_request(1, 2, name="old"))
    now[0] += 200
    store.ingest(_sum_request(1, 2, name="fresh"))
    now[0] += 150
    text = store.render()
    assert "fresh_total" in text
    assert "old_total" not in text


def test_resource_to_telemetry_conversion_puts_resource_attributes_on_series():
    store = otel.MetricStore(resource_to_telemetry=True)
    store.ingest(_sum_request(1, 2))
    assert 'service_name="svc"' in store.render()


def test_as_string_matches_the_collector_for_label_values():
    assert otel.as_string(True) == "true"
    assert otel.as_string(12) == "12"
    assert otel.as_string([1, "a"]) == '[1,"a"]'
    assert otel.as_string(float("inf")) == "+Inf"
    assert math.isnan(float(otel.as_string(float("nan"))))


# ------------------------------------------------------------------ the HTTP contract
@pytest.fixture
def server(recorder):
    srv = otel.Server(
        traces_url=recorder.url + "/v1/traces", logs_url=recorder.url + "/loki/api/v1/push", metric_expiration=300
    ).start()
    yield srv
    srv.stop()


def _post(url, body, content_type, encoding=None):
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read().decode("utf-8")


def test_http_protobuf_metrics_then_scrape(server):
    status, headers, body = _post(server.otlp_url + "/v1/metrics", TANSU_PAYLOAD.read_bytes(), "application/x-protobuf")
    assert (status, headers["Content-Type"], body) == (200, "application/x-protobuf", b"")
    assert "OpenTelemetry collector stand-in" in headers["Server"]
    status, headers, text = _get(server.metrics_url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert _find(_samples(text), "tansu_api_requests_total", api_key="0") >= 1
    status, _headers, text = _get(server.otlp_url + "/standin/status")
    doc = json.loads(text)
    assert doc["received"]["metrics"] == 1
    assert doc["series"] > 20


def test_http_gzip_json_metrics(server):
    body = gzip.compress(json.dumps(_sum_request(9, 2, name="json.counter")).encode())
    status, headers, reply = _post(server.otlp_url + "/v1/metrics", body, "application/json", "gzip")
    assert (status, headers["Content-Type"], reply) == (200, "application/json", b"{}")
    assert _find(_samples(_get(server.metrics_url)[2]), "json_counter_total", job="svc") == 9


def test_http_errors(server):
    status, headers, body = _post(server.otlp_url + "/v1/metrics", b"\x0a\x05abc", "application/x-protobuf")
    assert status == 400
    assert headers["Content-Type"] == "application/x-protobuf"
    # google.rpc.Status: code = 3 (INVALID_ARGUMENT) as field 1, the message as field 2
    assert body[:2] == b"\x08\x03"
    assert b"failed to decode the metrics request" in body
    status, _headers, body = _post(server.otlp_url + "/v1/metrics", b"[1]", "application/json")
    assert status == 400
    assert json.loads(body)["code"] == 3
    status, _h, _b = _post(server.otlp_url + "/v1/metrics", b"x", "text/plain")
    assert status == 415
    status, _h, _b = _post(server.otlp_url + "/v1/other", b"{}", "application/json")
    assert status == 404


def test_http_traces_are_forwarded_to_tempo_as_otlp_json(server, recorder):
    span = pb_len(1, bytes(16)) + pb_len(2, bytes(range(1, 9))) + pb_len(5, "op")
    body = pb_len(1, pb_len(2, pb_len(2, span)))
    status, _headers, _reply = _post(server.otlp_url + "/v1/traces", body, "application/x-protobuf")
    assert status == 200
    (forwarded,) = recorder.requests
    assert forwarded["path"] == "/v1/traces"
    assert forwarded["headers"]["Content-Type"] == "application/json"
    doc = json.loads(forwarded["body"])
    assert doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0] == {
        "traceId": "00" * 16,
        "spanId": "0102030405060708",
        "name": "op",
    }


def test_http_logs_are_pushed_to_loki(server, recorder):
    record = pb_fixed64(1, 1_700_000_000_000_000_000) + pb_len(5, pb_len(1, "broker started")) + pb_len(3, "INFO")
    resource = pb_len(1, pb_kv("service.name", string="tansu-broker"))
    body = pb_len(1, pb_len(1, resource) + pb_len(2, pb_len(2, record)))
    status, _headers, _reply = _post(server.otlp_url + "/v1/logs", body, "application/x-protobuf")
    assert status == 200
    (pushed,) = recorder.json_bodies()
    assert pushed == {
        "streams": [{"stream": {"service_name": "tansu-broker"}, "values": [["1700000000000000000", "broker started"]]}]
    }


def test_traces_and_logs_are_404_without_a_pipeline():
    srv = otel.Server().start()
    try:
        for path in ("/v1/traces", "/v1/logs"):
            status, _h, _b = _post(srv.otlp_url + path, b"{}", "application/json")
            assert status == 404
    finally:
        srv.stop()


def test_cli_runs_named_as_a_standin_and_stops_on_sigterm(run_standin):
    running = run_standin(
        "otel_collector_standin.py",
        ["--listen", "127.0.0.1:0", "--prometheus-listen", "127.0.0.1:0"],
        "otel-collector stand-in ready:",
    )
    match = re.search(r"otlp=(\S+) prometheus=(\S+)", running.ready_line)
    otlp_url, metrics_url = match.group(1), match.group(2)
    assert _post(otlp_url + "/v1/metrics", TANSU_PAYLOAD.read_bytes(), "application/x-protobuf")[0] == 200
    assert "tansu_bytes_sent_total" in _get(metrics_url)[2]
    comm = Path("/proc/{0}/comm".format(running.proc.pid)).read_text().strip()
    assert comm == "otel-collector-"  # PR_SET_NAME keeps 15 characters
    started = time.monotonic()
    assert running.stop() == 0
    assert time.monotonic() - started < 10
