"""Looking one trace up by id (module_utils): id checks, Tempo's answers in both JSON spellings, the v2 -> v1
fallback, and the traces condition with trace_id. No network: the proxy is a fake answering as Tempo does."""

import base64
import json

import pytest
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana as g
from ansible_collections.dojo.kafka_observability.plugins.module_utils import grafana_checks as c

TRACE = "5b8efff798038103d269b633813fc60c"
PRODUCER, CONSUMER = "eee19b7ec3c1b174", "0f1e2d3c4b5a6978"
NS = 1_777_629_600_000_000_000


def b64(hex_id):
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def resource_spans(spans, service="kafka-verification"):
    return [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"scope": {"name": "dojo"}, "spans": spans}],
        }
    ]


# Tempo's jsonpb (what its HTTP API writes): ids in base64, enums by name, zero values left out
JSONPB_SPANS = [
    {
        "traceId": b64(TRACE),
        "spanId": b64(CONSUMER),
        "parentSpanId": b64(PRODUCER),
        "name": "process notifications",
        "kind": "SPAN_KIND_CONSUMER",
        "startTimeUnixNano": str(NS + 120_000_000),
        "endTimeUnixNano": str(NS + 123_100_000),
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
    },
    {
        "traceId": b64(TRACE),
        "spanId": b64(PRODUCER),
        "name": "send notifications",
        "kind": "SPAN_KIND_PRODUCER",
        "startTimeUnixNano": str(NS),
        "endTimeUnixNano": str(NS + 12_500_000),
        "status": {},
    },
]
# OTLP/JSON (what the collector sends): hex ids, enums as numbers
OTLP_SPANS = [
    dict(s, traceId=TRACE, spanId=sid, kind=kind, status=status)
    for s, sid, kind, status in (
        (JSONPB_SPANS[0], CONSUMER, 5, {"code": 2}),
        (JSONPB_SPANS[1], PRODUCER, 4, {}),
    )
]
OTLP_SPANS[0]["parentSpanId"] = PRODUCER

EXPECTED = [
    {
        "span_id": PRODUCER,
        "parent_span_id": None,
        "parent": None,
        "service": "kafka-verification",
        "name": "send notifications",
        "kind": "producer",
        "status": "unset",
        "start": "2026-05-01T10:00:00.000000000Z",
        "start_unix_nano": NS,
        "duration_ms": 12.5,
    },
    {
        "span_id": CONSUMER,
        "parent_span_id": PRODUCER,
        "parent": "send notifications",
        "service": "kafka-verification",
        "name": "process notifications",
        "kind": "consumer",
        "status": "error",
        "start": "2026-05-01T10:00:00.120000000Z",
        "start_unix_nano": NS + 120_000_000,
        "duration_ms": 3.1,
    },
]


@pytest.mark.parametrize(
    "doc",
    [
        {"trace": {"resourceSpans": resource_spans(JSONPB_SPANS)}},  # v2
        {"batches": resource_spans(JSONPB_SPANS)},  # v1
        {"trace": {"batches": resource_spans(OTLP_SPANS)}},
        {"resourceSpans": resource_spans(OTLP_SPANS)},
    ],
)
def test_normalize_tempo_trace_reads_both_json_spellings(doc):
    result = g.normalize_tempo_trace(doc)
    assert result == {"result_type": "trace", "spans": EXPECTED, "count": 2, "found": True}


@pytest.mark.parametrize("doc", [None, {}, {"trace": {}}, {"batches": []}])
def test_normalize_tempo_trace_of_nothing(doc):
    assert g.normalize_tempo_trace(doc) == {"result_type": "trace", "spans": [], "count": 0, "found": False}


def test_a_parent_outside_the_trace_has_no_name_and_old_tempo_scope_spelling_is_read():
    span = dict(OTLP_SPANS[0], kind="SPAN_KIND_SERVER")
    doc = {"batches": [{"resource": {}, "instrumentationLibrarySpans": [{"spans": [span]}]}]}
    (only,) = g.normalize_tempo_trace(doc)["spans"]
    assert (only["parent_span_id"], only["parent"], only["service"], only["kind"]) == (PRODUCER, None, None, "server")


@pytest.mark.parametrize("value", [TRACE, TRACE.upper(), "  %s " % TRACE])
def test_trace_id_accepted(value):
    assert g.normalize_trace_id(value) == TRACE


@pytest.mark.parametrize("value", ["", "abc", TRACE + "0", "0" * 32, "g" * 32, "00-%s-%s-01" % (TRACE, PRODUCER)])
def test_trace_id_refused_in_one_sentence(value):
    with pytest.raises(g.GrafanaError) as info:
        g.normalize_trace_id(value)
    assert info.value.kind == "invalid_argument"
    assert "32 hexadecimal digits, not all zero" in info.value.msg


class FakeTempoClient(g.GrafanaClient):
    """The real client with its proxy replaced by Tempo's answers: path -> (status, body)."""

    def __init__(self, answers):
        super().__init__({"grafana_url": "http://grafana.invalid:3000", "grafana_token": "t0ken"})
        self.answers = answers
        self.asked = []

    def proxy_get(self, ds, native_path, params, language):
        self.asked.append(native_path)
        status, body = self.answers.get(native_path.split("/" + TRACE)[0], (404, "404 page not found\n"))
        if status != 200:
            error = self._http_error(status, "Not Found", body.encode(), "GET", "/x", context={"datasource": ds})
            error.detail = g._message_of(body.encode())
            raise error
        return json.loads(body)


DS = {"uid": "tempo", "name": "Tempo", "type": "tempo"}
V2_DOC = json.dumps({"trace": {"resourceSpans": resource_spans(JSONPB_SPANS)}})


def test_v2_answers_and_a_v2_404_is_not_found_yet():
    client = FakeTempoClient({"api/v2/traces": (200, V2_DOC)})
    doc, path = client.tempo_trace(DS, TRACE)
    assert path == "api/v2/traces/" + TRACE
    assert g.normalize_tempo_trace(doc)["count"] == 2
    client = FakeTempoClient({"api/v2/traces": (404, ""), "api/traces": (200, V2_DOC)})
    assert client.tempo_trace(DS, TRACE) == (None, "api/v2/traces/" + TRACE)
    assert client.asked == ["api/v2/traces/" + TRACE]  # a Tempo with v2 said "no such trace": v1 not asked


def test_a_tempo_without_v2_is_asked_on_v1_from_then_on():
    client = FakeTempoClient({"api/traces": (404, "")})
    assert client.tempo_trace(DS, TRACE) == (None, "api/traces/" + TRACE)
    client.answers["api/traces"] = (200, json.dumps({"batches": resource_spans(JSONPB_SPANS)}))
    doc, path = client.tempo_trace(DS, TRACE)
    assert path == "api/traces/" + TRACE
    assert g.normalize_tempo_trace(doc)["found"] is True
    assert client.asked == ["api/v2/traces/" + TRACE, "api/traces/" + TRACE, "api/traces/" + TRACE]


def test_a_datasource_that_knows_neither_path_is_an_error_at_once():
    client = FakeTempoClient({})
    with pytest.raises(g.GrafanaError) as info:
        client.tempo_trace(DS, TRACE)
    assert info.value.kind == "not_found"
    assert not info.value.transient
    assert info.value.msg == (
        "Datasource 'Tempo' (tempo) answers neither api/v2/traces/<id> nor api/traces/<id> (404 page not found); "
        "is its URL in Grafana the Tempo query API (port 3200)?"
    )


def test_other_errors_are_raised_as_they_are():
    client = FakeTempoClient({"api/v2/traces": (500, "internal error")})
    with pytest.raises(g.GrafanaError) as info:
        client.tempo_trace(DS, TRACE)
    assert info.value.status == 500
    assert info.value.transient


def test_run_query_by_trace_id_and_the_spans_condition():
    client = FakeTempoClient({"api/v2/traces": (200, V2_DOC)})
    result = c.run_query(client, DS, "traceql", {"trace_id": TRACE}, 0.0)
    assert (result["query_type"], result["trace_api"], result["trace_id"]) == ("trace", "api/v2/traces", TRACE)
    met = c.check_spans(result, 2)
    assert met.met
    assert met.observed == 2
    assert met.facts == {"trace_id": TRACE, "spans": EXPECTED, "found": True}
    assert met.description == (
        "needed at least 2 spans in trace %s, observed 2 (kafka-verification: send notifications (producer); "
        "kafka-verification: process notifications (consumer, child of send notifications))" % TRACE
    )
    assert not c.check_spans(result, 3).met


def test_the_spans_condition_while_the_trace_is_missing():
    client = FakeTempoClient({"api/v2/traces": (404, "")})
    result = c.run_query(client, DS, "traceql", {"trace_id": TRACE}, 0.0)
    missing = c.check_spans(result, 2)
    assert (missing.met, missing.observed, missing.facts["found"], missing.facts["spans"]) == (False, 0, False, [])
    assert missing.description == (
        "needed at least 2 spans of trace %s, but Tempo has none of its spans (api/v2/traces/%s: trace not found)"
        % (TRACE, TRACE)
    )
