"""Unit tests of plugins/module_utils/otlp.py: W3C trace context, the OTLP JSON body, the export.

The export tests talk to small HTTP servers of their own on 127.0.0.1 (the real collector is in
tests/integration/kafka/test_kafka_tracing.py)."""

import contextlib
import gzip
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import otlp

W3C_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # from the W3C recommendation
HEX = re.compile(r"^[0-9a-f]+$")


# ------------------------------------------------------------------ ids and traceparent
def test_new_ids_have_the_w3c_sizes_and_are_random():
    trace_ids = {otlp.new_trace_id() for dummy in range(200)}
    span_ids = {otlp.new_span_id() for dummy in range(200)}
    assert len(trace_ids) == len(span_ids) == 200
    for trace_id in trace_ids:
        assert len(trace_id) == 32  # 16 bytes
        assert HEX.match(trace_id)
        assert otlp.is_trace_id(trace_id)
    for span_id in span_ids:
        assert len(span_id) == 16  # 8 bytes
        assert HEX.match(span_id)
        assert otlp.is_span_id(span_id)


def test_format_traceparent():
    assert otlp.format_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7") == W3C_EXAMPLE
    assert otlp.format_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", sampled=False).endswith(
        "-00"
    )
    value = otlp.format_traceparent(otlp.new_trace_id(), otlp.new_span_id())
    assert len(value) == 55
    assert re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", value)


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        ("4BF92F3577B34DA6A3CE929D0E0E4736", "00f067aa0ba902b7"),  # uppercase
        ("0" * 32, "00f067aa0ba902b7"),  # all-zero trace id
        ("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 16),  # all-zero span id
        ("4bf92f3577b34da6a3ce929d0e0e47", "00f067aa0ba902b7"),  # 15 bytes
        ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902"),  # 7 bytes
    ],
)
def test_format_traceparent_refuses_invalid_ids(trace_id, span_id):
    with pytest.raises(ValueError, match="hex digits"):
        otlp.format_traceparent(trace_id, span_id)


def test_parse_traceparent():
    expected = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
    assert otlp.parse_traceparent(W3C_EXAMPLE) == expected
    assert otlp.parse_traceparent(W3C_EXAMPLE.encode()) == expected  # a Kafka header value is bytes
    assert otlp.parse_traceparent(" " + W3C_EXAMPLE + " ") == expected
    assert otlp.parse_traceparent(W3C_EXAMPLE[:-2] + "00")[2] == 0
    # a later version may append fields; the first four are read as version 00's
    assert otlp.parse_traceparent("cc" + W3C_EXAMPLE[2:] + "-what-the-future-holds") == expected
    trace_id, span_id = otlp.new_trace_id(), otlp.new_span_id()
    assert otlp.parse_traceparent(otlp.format_traceparent(trace_id, span_id)) == (trace_id, span_id, 1)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "ff" + W3C_EXAMPLE[2:],  # version ff is invalid
        W3C_EXAMPLE.upper(),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        W3C_EXAMPLE + "-extra",  # version 00 has exactly four fields
        W3C_EXAMPLE[:-1],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        b"\xff\xfe",
        42,
    ],
)
def test_parse_traceparent_rejects(value):
    assert otlp.parse_traceparent(value) is None


# ------------------------------------------------------------------ the OTLP JSON body
def test_span_shape():
    span = otlp.make_span(
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "send notifications",
        otlp.SPAN_KIND_PRODUCER,
        start_ns=1_767_225_600_000_000_000,
        end_ns=1_767_225_600_250_000_000,
        attributes={"messaging.system": "kafka", "messaging.batch.message_count": 50, "skipped": None, "ok": True},
    )
    assert span == {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": "send notifications",
        "kind": 4,  # SPAN_KIND_PRODUCER, an integer in OTLP JSON
        "startTimeUnixNano": "1767225600000000000",  # uint64 as a decimal string
        "endTimeUnixNano": "1767225600250000000",
        "attributes": [
            {"key": "messaging.batch.message_count", "value": {"intValue": "50"}},
            {"key": "messaging.system", "value": {"stringValue": "kafka"}},
            {"key": "ok", "value": {"boolValue": True}},
        ],
        "status": {"code": 0},
    }
    assert "parentSpanId" not in span


def test_child_span_and_error_status():
    span = otlp.make_span(
        otlp.new_trace_id(),
        otlp.new_span_id(),
        "process notifications",
        otlp.SPAN_KIND_CONSUMER,
        start_ns=10,
        end_ns=5,  # a clock step backwards never makes a negative duration
        parent_span_id="00f067aa0ba902b7",
        error="message #7 could not be sent",
    )
    assert span["kind"] == 5
    assert span["parentSpanId"] == "00f067aa0ba902b7"
    assert span["endTimeUnixNano"] == span["startTimeUnixNano"] == "10"
    assert span["status"] == {"code": 2, "message": "message #7 could not be sent"}
    with pytest.raises(ValueError):
        otlp.make_span("x", "y", "n", 1, start_ns=0, end_ns=0)
    with pytest.raises(ValueError):
        otlp.make_span(otlp.new_trace_id(), otlp.new_span_id(), "n", 1, start_ns=0, end_ns=0, parent_span_id="ZZ")


def test_traces_request_shape():
    span = otlp.make_span(otlp.new_trace_id(), otlp.new_span_id(), "s", 4, start_ns=1, end_ns=2)
    body = otlp.traces_request("kafka-verification", [span])
    assert json.loads(json.dumps(body)) == body
    (resource_spans,) = body["resourceSpans"]
    assert resource_spans["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "kafka-verification"}}
    ]
    (scope_spans,) = resource_spans["scopeSpans"]
    assert scope_spans["scope"] == {"name": "dojo.kafka_observability"}
    assert scope_spans["spans"] == [span]


def test_messaging_attributes():
    attributes = otlp.messaging_attributes(
        "notifications", "send", 50, ["192.168.56.209:9092", "other:9092"], extra={"messaging.client.id": "c"}
    )
    assert attributes == {
        "messaging.system": "kafka",
        "messaging.destination.name": "notifications",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.batch.message_count": 50,
        "server.address": "192.168.56.209",
        "server.port": 9092,
        "messaging.client.id": "c",
    }
    assert otlp.messaging_attributes("t", "process", 1, ["[::1]:9092"])["server.address"] == "::1"


# ------------------------------------------------------------------ endpoint
@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://192.168.56.211:4318", "http://192.168.56.211:4318/v1/traces"),
        ("http://192.168.56.211:4318/", "http://192.168.56.211:4318/v1/traces"),
        ("https://otel.example/otlp", "https://otel.example/otlp/v1/traces"),
        ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
        ("http://c:4318/v1/traces/", "http://c:4318/v1/traces"),
    ],
)
def test_traces_url(endpoint, url):
    assert otlp.traces_url(endpoint) == url


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("", "otlp_endpoint is empty"),
        ("192.168.56.211:4318", "is not an http:// or https:// URL with a host"),
        ("ftp://collector:4318", "is not an http:// or https:// URL with a host"),
        ("http://:4318", "is not an http:// or https:// URL with a host"),
        ("http://collector:99999", "is not a URL"),
    ],
)
def test_endpoint_problem(endpoint, problem):
    assert problem in otlp.endpoint_problem(endpoint)


def test_endpoint_problem_accepts_urls_and_hides_credentials():
    assert otlp.endpoint_problem("http://192.168.56.211:4318") is None
    assert otlp.endpoint_problem("https://user:pw@otel.example") is None
    assert "pw" not in otlp.endpoint_problem("ftp://user:pw@otel.example")
    assert otlp.redact_url("https://user:pw@otel.example:4318/x") == "https://otel.example:4318/x"


# ------------------------------------------------------------------ export, against local HTTP servers
class Receiver:
    """An HTTP server on 127.0.0.1 that records the requests and answers (status, body)."""

    def __init__(self, status=200, body=b"{}"):
        self.requests = []
        self.status = status
        self.body = body
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                receiver.requests.append((self.path, dict(self.headers), data))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def endpoint(self):
        return "http://127.0.0.1:{0}".format(self.server.server_address[1])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def spans(count=1):
    trace_id = otlp.new_trace_id()
    return [
        otlp.make_span(trace_id, otlp.new_span_id(), "send t", otlp.SPAN_KIND_PRODUCER, start_ns=1, end_ns=2)
        for dummy in range(count)
    ]


def test_export_posts_otlp_json_to_v1_traces():
    sent = spans()
    with Receiver() as receiver:
        accepted = otlp.export_spans(
            receiver.endpoint, "kafka-verification", sent, headers={"Authorization": "Bearer t0ken"}, timeout=5
        )
    assert accepted == 1
    ((path, headers, data),) = receiver.requests
    assert path == "/v1/traces"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer t0ken"
    body = json.loads(data)
    assert body == otlp.traces_request("kafka-verification", sent)
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32
    assert len(span["spanId"]) == 16


def test_export_splits_many_spans():
    with Receiver() as receiver:
        assert otlp.export_spans(receiver.endpoint, "s", spans(otlp.MAX_SPANS_PER_REQUEST + 3)) == 503
    assert [
        len(json.loads(d)["resourceSpans"][0]["scopeSpans"][0]["spans"]) for _path, _headers, d in receiver.requests
    ] == [
        otlp.MAX_SPANS_PER_REQUEST,
        3,
    ]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (503, b'{"code": 14, "message": "exporter queue is full"}', "answered HTTP 503 Service Unavailable: {"),
        (400, b"bad trace id", "answered HTTP 400 Bad Request: bad trace id"),
        (
            200,
            b'{"partialSuccess": {"rejectedSpans": "1", "errorMessage": "too old"}}',
            "rejected 1 of 1 spans: too old",
        ),
    ],
)
def test_export_failures_name_the_endpoint_and_the_answer(status, body, message):
    with Receiver(status, body) as receiver, pytest.raises(otlp.OtlpError) as failure:
        otlp.export_spans(receiver.endpoint + "/", "s", spans(), headers={"Authorization": "Bearer hidden"})
    text = str(failure.value)
    assert text.startswith("the OTLP endpoint {0}/v1/traces ".format(receiver.endpoint)), text
    assert message in text
    assert "hidden" not in text


def test_export_to_a_closed_port_is_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(otlp.OtlpError, match=r"could not be reached: connection refused"):
        otlp.export_spans("http://127.0.0.1:{0}".format(port), "s", spans(), timeout=5)


def test_export_to_a_silent_endpoint_times_out():
    # the kernel accepts the connection (listen backlog) but nobody ever answers
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        endpoint = "http://127.0.0.1:{0}".format(sock.getsockname()[1])
        with pytest.raises(otlp.OtlpError, match=r"could not be reached: no answer within 0\.5 s \(otlp_timeout\)"):
            otlp.export_spans(endpoint, "s", spans(), timeout=0.5)


def test_export_to_an_unresolvable_host():
    with pytest.raises(otlp.OtlpError, match="the host name does not resolve"):
        otlp.export_spans("http://no-such-host.invalid:4318", "s", spans(), timeout=5)


def test_argument_spec_hides_headers():
    assert otlp.OTLP_ARGUMENT_SPEC["otlp_headers"]["no_log"] is True
    assert otlp.OTLP_ARGUMENT_SPEC["otlp_service_name"]["default"] == "kafka-verification"
