"""The Grafana/Loki/Tempo stand-in (tests/support/standins/grafana_standin.py) keeps the contracts it claims.

The stand-in is test support, but the modules' integration tests and the lab rely on it, so
what it says it implements (LogQL/TraceQL subsets, Grafana auth and proxy rules) is tested here.
"""

import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.support.prometheus import wait_for
from tests.support.standins import grafana_standin as s

NS = 1_700_000_000 * 10**9


def http(method, url, body=None, headers=None, timeout=10):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    headers = dict(headers or {})
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_logql_selectors_and_line_filters():
    store = s.LokiStore()
    store.push(
        {
            "streams": [
                {"stream": {"container": "kafka", "level": "info"}, "values": [[str(NS + 1), "started broker"]]},
                {"stream": {"container": "kafka", "level": "error"}, "values": [[str(NS + 2), "ERROR boom 42"]]},
                {"stream": {"container": "cadvisor"}, "values": [[str(NS + 3), "scrape ok"]]},
            ]
        }
    )

    def lines(query):
        streams = store.query_logs(s.parse_logql(query), NS, NS + 10, 100, "forward")
        return [v[1] for stream in streams for v in stream["values"]]

    assert lines('{container="kafka"}') == ["started broker", "ERROR boom 42"]
    assert lines('{container!="kafka", container=~".+"}') == ["scrape ok"]
    assert lines('{container=~"kaf.*"} |= "boom"') == ["ERROR boom 42"]
    assert lines('{container=~"kaf"}') == []  # label regexes are anchored, as in Loki
    assert lines('{container="kafka"} != "boom"') == ["started broker"]
    assert lines('{container="kafka"} |~ "[0-9]+"') == ["ERROR boom 42"]
    assert lines('{container="kafka"} !~ "^ERR" |= "broker"') == ["started broker"]
    assert lines('{level!~"err.*", container="kafka"}') == ["started broker"]
    assert lines("{container=`kafka`} |= `boom`") == ["ERROR boom 42"]


def test_loki_limit_and_direction_apply_across_streams():
    store = s.LokiStore()
    store.push({"streams": [{"stream": {"a": "1"}, "values": [[str(NS + i), "l%d" % i] for i in (1, 3)]}]})
    store.push({"streams": [{"stream": {"a": "2"}, "values": [[str(NS + 2), "l2"]]}]})
    query = s.parse_logql('{a=~"1|2"}')
    newest = store.query_logs(query, NS, NS + 10, 2, "backward")
    assert sorted(v[1] for st in newest for v in st["values"]) == ["l2", "l3"]
    oldest = store.query_logs(query, NS, NS + 10, 2, "forward")
    assert sorted(v[1] for st in oldest for v in st["values"]) == ["l1", "l2"]


def test_logql_metric_queries():
    store = s.LokiStore()
    store.push(
        {"streams": [{"stream": {"c": "k", "p": "0"}, "values": [[str(NS + i * 10**9), "x"] for i in range(5)]}]}
    )
    store.push({"streams": [{"stream": {"c": "k", "p": "1"}, "values": [[str(NS), "x"]]}]})
    by_stream = store.eval_metric(s.parse_logql('count_over_time({c="k"}[1m])'), NS + 5 * 10**9)
    assert sorted(by_stream.values()) == [1.0, 5.0]
    assert store.eval_metric(s.parse_logql('sum(count_over_time({c="k"}[1m]))'), NS + 5 * 10**9) == {(): 6.0}
    assert store.eval_metric(s.parse_logql('sum by (p) (count_over_time({c="k"}[1m]))'), NS + 5 * 10**9) == {
        (("p", "0"),): 5.0,
        (("p", "1"),): 1.0,
    }


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("vector(1)+vector(1)", {(): 2.0}),  # what Grafana's Loki health check asks
        ("(vector(2) * 3) - vector(1) / 2", {(): 5.5}),
        ("2 * (1 + vector(3)) % 5", {(): 3.0}),
        ('sum by (p) (count_over_time({c="k"}[1m])) * 10', {(("p", "0"),): 50.0, (("p", "1"),): 10.0}),
        (
            'sum by (p) (count_over_time({c="k"}[1m])) - sum by (p) (count_over_time({c="k", p="0"}[1m]))',
            {(("p", "0"),): 0.0},
        ),
        ("vector(1) / 0", {(): float("inf")}),
    ],
)
def test_logql_vector_literals_and_arithmetic(query, value):
    store = s.LokiStore()
    store.push(
        {"streams": [{"stream": {"c": "k", "p": "0"}, "values": [[str(NS + i * 10**9), "x"] for i in range(5)]}]}
    )
    store.push({"streams": [{"stream": {"c": "k", "p": "1"}, "values": [[str(NS), "x"]]}]})
    assert store.eval_metric(s.parse_logql(query), NS + 5 * 10**9) == value


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("{}", "at least one regexp or equality matcher"),
        ('{app=~".*"}', "empty-compatible value"),
        ('{app="x"} | json', "supports line filters |= != |~ !~ and string label filters"),
        ('{app="x"} | status > 200', "no parsers, numeric label filters"),
        ('{app="x"', "syntax error"),
        ('rate({app="x"})', "syntax error"),
        ('topk(3, {app="x"})', "only supports count_over_time, rate, sum and vector"),
        ("1 + 1", "arithmetic with at least one vector operand only"),
        ('{app="x"} + vector(1)', "unexpected type for left leg of binary operation (+): a log query is not a vector"),
        ('vector(1) * {app="x"}', "unexpected type for right leg of binary operation (*)"),
        ('{app=~"("}', "error parsing regexp"),
        ("", "syntax error"),
    ],
)
def test_logql_rejects_what_it_does_not_implement(query, text):
    with pytest.raises(s.LogQLError) as info:
        s.parse_logql(query)
    assert text in str(info.value)


def otlp(trace_id, spans, service="kafka"):
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }


def span(trace_id, span_id, name, start, ms, *, parent="", **attrs):
    values = []
    for name_, value in attrs.items():
        key = name_.replace("_", ".")
        if isinstance(value, bool):
            values.append({"key": key, "value": {"boolValue": value}})
        elif isinstance(value, int):
            values.append({"key": key, "value": {"intValue": str(value)}})
        else:
            values.append({"key": key, "value": {"stringValue": value}})
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 4,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + ms * 10**6),
        "attributes": values,
        "status": {"code": 2 if name.startswith("fail") else 0},
    }


@pytest.fixture
def tempo():
    store = s.TempoStore()
    t1, t2 = "11" * 16, "22" * 16
    store.ingest_otlp(
        otlp(t1, [span(t1, "a1" * 8, "notifications publish", NS, 5, messaging_destination="notifications")])
    )
    store.ingest_otlp(
        otlp(t1, [span(t1, "a2" * 8, "fail deliver", NS + 10**6, 2, parent="a1" * 8, retries=3)], service="consumer")
    )
    store.ingest_otlp(otlp(t2, [span(t2, "b1" * 8, "orders publish", NS + 10**9, 300)], service="shop"))
    return store


def search_ids(store, query, **kwargs):
    traces, _matched = store.search(s.parse_traceql(query), **kwargs)
    return [t["traceID"][:2] for t in traces]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("{ }", ["22", "11"]),
        ('{ resource.service.name = "kafka" }', ["11"]),
        ('{ .service.name = "consumer" }', ["11"]),
        ('{ span.messaging.destination = "notifications" }', ["11"]),
        ('{ resource.service.name =~ "sh.*" }', ["22"]),
        ('{ resource.service.name !~ "sh.*" }', ["11"]),
        ('{ resource.service.name != "kafka" }', ["22", "11"]),
        ("{ duration > 100ms }", ["22"]),
        ("{ status = error }", ["11"]),
        ("{ kind = producer && span.retries >= 3 }", ["11"]),
        ('{ name = "orders publish" || name = "fail deliver" }', ["22", "11"]),
        ('{ (name = "x" || rootServiceName = "kafka") && status != error }', ["11"]),
        ('{ .service.name = "kafka" } && { .service.name = "consumer" }', ["11"]),
        ('{ .service.name = "shop" } || { span.retries = 3 }', ["22", "11"]),
        ('{ span.missing = "x" }', []),
        ('{ span.missing != "x" }', []),
        ("{ traceDuration > 1s }", []),
    ],
)
def test_traceql_subset(tempo, query, ids):
    assert search_ids(tempo, query) == ids


def test_tempo_search_fields_window_and_tags(tempo):
    traces, _matched = tempo.search(s.parse_traceql('{ .service.name = "consumer" }'))
    assert traces[0]["rootServiceName"] == "kafka"
    assert traces[0]["rootTraceName"] == "notifications publish"
    assert traces[0]["durationMs"] == 5
    assert traces[0]["startTimeUnixNano"] == str(NS)
    assert traces[0]["spanSet"]["matched"] == 1
    assert search_ids(tempo, "{ }", start_s=NS / 1e9 + 0.5) == ["22"]
    assert search_ids(tempo, "{ }", end_s=NS / 1e9 + 0.5) == ["11"]
    assert search_ids(tempo, "{ }", min_duration=0.1) == ["22"]
    assert search_ids(tempo, "{ }", limit=1) == ["22"]
    traces, _matched = tempo.search(s.tags_to_query(s.parse_logfmt('service.name=shop name="orders publish"')))
    assert [t["traceID"][:2] for t in traces] == ["22"]


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ('{ .a = "b" } | count() > 1', "not supported by this Tempo stand-in"),
        ('{ .a = "b" } >> { .c = "d" }', "not supported by this Tempo stand-in"),
        ('{ .a = "b"', "syntax error"),
        ('{ foo = "b" }', "unknown or unsupported attribute"),
        ('{ .a =~ "(" }', "error parsing regexp"),
        ("", "syntax error"),
    ],
)
def test_traceql_rejects_what_it_does_not_implement(query, text):
    with pytest.raises(s.TraceQLError) as info:
        s.parse_traceql(query)
    assert str(info.value).startswith("invalid TraceQL query: ")
    assert text in str(info.value)


def test_otlp_ids_in_base64_are_accepted_and_bad_ones_refused():
    store = s.TempoStore()
    trace_id = base64.b64encode(bytes.fromhex("ab" * 16)).decode()
    store.ingest_otlp(otlp(trace_id, [span(trace_id, base64.b64encode(b"12345678").decode(), "x", NS, 1)]))
    assert store.get("ab" * 16) is not None
    with pytest.raises(ValueError, match="invalid id"):
        store.ingest_otlp(otlp("zz", [span("zz", "a1" * 8, "x", NS, 1)]))


# ----------------------------------------------------------------------------- HTTP
@pytest.fixture
def stack():
    config = {
        "grafana": {
            "tokens": [{"token": "admin-token", "role": "Admin"}, {"token": "viewer-token", "role": "Viewer"}],
            "users": [{"login": "admin", "password": "pw", "role": "Admin", "orgs": [1, 2]}],
            "proxy_timeout": 2,
            "datasources": [
                {"uid": "loki", "name": "Loki", "type": "loki", "url": "{loki_url}"},
                {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "{tempo_url}"},
                {"uid": "prom", "name": "Thanos", "type": "prometheus", "url": "{loki_url}"},
                {
                    "uid": "other",
                    "name": "Other org",
                    "type": "loki",
                    "url": "{loki_url}",
                    "orgId": 2,
                    "basicAuth": True,
                    "basicAuthUser": "u",
                    "basicAuthPassword": "ds-secret",
                },
            ],
        },
        "loki": {"load": [{"streams": [{"stream": {"job": "kafka"}, "values": [[str(NS), "loaded at start"]]}]}]},
        "tempo": {"otlp_listen": "127.0.0.1:0"},
    }
    with s.start_stack(config) as running:
        yield running


ADMIN = {"Authorization": "Bearer admin-token"}


def test_grafana_auth_rules(stack):
    g = stack.grafana_url
    assert http("GET", g + "/api/health")[0] == 200
    status, body = http("GET", g + "/api/datasources")
    assert (status, json.loads(body)["message"]) == (401, "Unauthorized")
    status, body = http("GET", g + "/api/datasources", headers={"Authorization": "Bearer nope"})
    assert (status, json.loads(body)["message"]) == (401, "Invalid API key")
    basic_bad = {"Authorization": "Basic " + base64.b64encode(b"admin:bad").decode()}
    assert http("GET", g + "/api/datasources", headers=basic_bad)[0] == 401
    status, body = http("GET", g + "/api/datasources", headers={"Authorization": "Bearer viewer-token"})
    assert status == 403
    assert "datasources:read" in json.loads(body)["message"]
    status, body = http("GET", g + "/api/datasources", headers=ADMIN)
    assert status == 200
    assert [d["name"] for d in json.loads(body)] == ["Loki", "Tempo", "Thanos"]
    basic = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode(), "X-Grafana-Org-Id": "2"}
    status, body = http("GET", g + "/api/datasources", headers=basic)
    assert status == 200
    assert [d["name"] for d in json.loads(body)] == ["Other org"]
    assert "ds-secret" not in body
    assert json.loads(body)[0]["secureJsonFields"] == {"basicAuthPassword": True}
    assert http("GET", g + "/api/datasources", headers=dict(ADMIN, **{"X-Grafana-Org-Id": "2"}))[0] == 401


def test_grafana_datasource_lookup(stack):
    g = stack.grafana_url
    status, body = http("GET", g + "/api/datasources/name/Loki", headers=ADMIN)
    assert status == 200
    doc = json.loads(body)
    assert (doc["uid"], doc["type"], doc["url"], doc["access"]) == ("loki", "loki", stack.loki_url, "proxy")
    assert json.loads(http("GET", g + "/api/datasources/uid/tempo", headers=ADMIN)[1])["name"] == "Tempo"
    assert json.loads(http("GET", g + "/api/datasources/3", headers=ADMIN)[1])["name"] == "Thanos"
    status, body = http("GET", g + "/api/datasources/name/Nope", headers=ADMIN)
    assert (status, json.loads(body)["message"]) == (404, "Data source not found")
    assert http("GET", g + "/api/datasources/uid/other", headers=ADMIN)[0] == 404  # other org


def test_grafana_proxy_forwards_and_applies_prometheus_post_rules(stack):
    g = stack.grafana_url
    query = urllib.parse.urlencode({"query": '{job="kafka"}', "start": str(NS - 1), "end": str(NS + 1)})
    status, body = http("GET", g + "/api/datasources/proxy/uid/loki/loki/api/v1/query_range?" + query, headers=ADMIN)
    assert status == 200
    assert json.loads(body)["data"]["result"][0]["values"] == [[str(NS), "loaded at start"]]
    status, body = http("GET", g + "/api/datasources/proxy/1/loki/api/v1/labels", headers=ADMIN)
    assert json.loads(body)["data"] == ["job"]
    # Loki's own 400 text comes back through the proxy
    status, body = http(
        "GET", g + "/api/datasources/proxy/uid/loki/loki/api/v1/query_range?query=%7B%7D", headers=ADMIN
    )
    assert status == 400
    assert "at least one regexp or equality matcher" in body
    # a proxied Prometheus datasource refuses POST except on query endpoints (403), lets them through
    status, body = http("POST", g + "/api/datasources/proxy/uid/prom/api/v1/admin/tsdb/snapshot", b"", ADMIN)
    assert status == 403
    assert json.loads(body)["message"] == "non allow-listed POSTs not allowed on proxied Prometheus datasource"
    assert http("DELETE", g + "/api/datasources/proxy/uid/prom/api/v1/series", None, ADMIN)[0] == 403
    assert http("POST", g + "/api/datasources/proxy/uid/prom/api/v1/query", b"query=up", ADMIN)[0] == 404  # reached
    assert http("GET", g + "/api/datasources/proxy/uid/nope/x", headers=ADMIN)[0] == 404
    assert http("GET", g + "/api/datasources/proxy/uid/loki/loki/api/v1/labels")[0] == 401
    log = list(stack.grafana.requests)
    assert ("GET", "/api/datasources/proxy/1/loki/api/v1/labels") in log


def test_grafana_proxy_answers_502_and_504(stack):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    server = stack.grafana
    server.datasources.append(
        dict(server.datasources[0], uid="down", name="Down", url="http://127.0.0.1:%d" % closed_port)
    )
    server.datasources.append(
        dict(server.datasources[0], uid="slow", name="Slow", url="http://%s:%d" % silent.getsockname())
    )
    try:
        started = time.monotonic()
        assert http("GET", stack.grafana_url + "/api/datasources/proxy/uid/down/x", headers=ADMIN) == (502, "")
        assert http("GET", stack.grafana_url + "/api/datasources/proxy/uid/slow/x", headers=ADMIN) == (504, "")
        assert time.monotonic() - started < 10
    finally:
        silent.close()


def test_grafana_datasource_health_api(stack):
    """GET /api/datasources/uid/<uid>/health: what Grafana's Loki and Tempo checks ask, Grafana's statuses and words."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_url = "http://127.0.0.1:%d" % closed.getsockname()[1]
    closed.close()
    server = stack.grafana
    base = server.datasources[0]
    server.datasources.extend(
        [
            dict(base, uid="loki-down", type="loki", url=closed_url),
            dict(base, uid="tempo-down", type="tempo", url=closed_url),
            dict(base, uid="prom-down", type="prometheus", url=closed_url),
            dict(base, uid="prom-slow", type="prometheus", url="http://%s:%d" % silent.getsockname()),
            dict(base, uid="tempo-is-loki", type="tempo", url=stack.loki_url),
            dict(base, uid="es", type="elasticsearch"),
            dict(base, uid="no-check", healthCheck=False),
        ]
    )
    viewer = {"Authorization": "Bearer viewer-token"}  # Grafana asks for datasources:query only

    def health(uid):
        status, body = http("GET", stack.grafana_url + "/api/datasources/uid/%s/health" % uid, headers=viewer)
        return status, json.loads(body)

    try:
        assert health("loki") == (200, {"status": "OK", "message": "Successfully queried the Loki API."})
        assert health("tempo") == (200, {"status": "OK", "message": "Health check succeeded"})
        assert http("GET", stack.grafana_url + "/api/datasources/2/health", headers=viewer)[0] == 200  # by id
        # a "Prometheus" whose URL is Loki: Go's 404 text, then Grafana's sentence
        assert health("prom") == (
            400,
            {
                "status": "ERROR",
                "message": "404 page not found - There was an error returned querying the Prometheus API.",
            },
        )
        hostport = closed_url[len("http://") :]
        assert health("prom-down") == (
            400,
            {
                "status": "ERROR",
                "message": 'Post "%s/api/v1/query": dial tcp %s: connect: connection refused - There was an error '
                "returned querying the Prometheus API." % (closed_url, hostport),
            },
        )
        status, doc = health("loki-down")
        assert (status, doc["status"]) == (400, "ERROR")
        assert doc["message"] == (
            'There was an error returned querying the Loki API.: Get "%s/loki/api/v1/query?direction=backward&'
            'query=vector%%281%%29%%2Bvector%%281%%29&time=4000000000": dial tcp %s: connect: connection refused'
            % (closed_url, hostport)
        )
        assert health("tempo-down")[1]["message"] == (
            'Unable to connect with Tempo: Get "%s/api/echo": dial tcp %s: connect: connection refused'
            % (closed_url, hostport)
        )
        assert health("tempo-is-loki")[1]["message"] == "Unable to connect with Tempo: 404 page not found"
        started = time.monotonic()
        status, doc = health("prom-slow")
        assert time.monotonic() - started < 10
        assert doc["message"].endswith(
            ": context deadline exceeded (Client.Timeout exceeded while awaiting headers) - There was an error "
            "returned querying the Prometheus API."
        )
        for uid in ("es", "no-check"):
            assert health(uid) == (
                501,
                {"message": "Not implemented", "messageId": "plugin.notImplemented", "statusCode": 501, "traceID": ""},
            )
        status, doc = health("nope")
        assert (status, doc["message"]) == (500, "Unable to load datasource metadata")
        assert http("GET", stack.grafana_url + "/api/datasources/uid/loki/health")[0] == 401
    finally:
        silent.close()


def test_loki_and_tempo_ingestion_apis(stack):
    status, _body = http(
        "POST",
        stack.loki_url + "/loki/api/v1/push",
        {"streams": [{"stream": {"job": "x"}, "values": [[str(NS), "hi"]]}]},
    )
    assert status == 204
    assert (
        http("POST", stack.loki_url + "/loki/api/v1/push", b"\x00", {"Content-Type": "application/x-protobuf"})[0]
        == 415
    )
    assert http("POST", stack.loki_url + "/loki/api/v1/push", {"streams": [{"stream": {}, "values": []}]})[0] == 400
    status, body = http("GET", stack.loki_url + "/loki/api/v1/query?query=%7Bjob%3D%22x%22%7D")
    assert status == 400
    assert "log queries are not supported as an instant query type" in body
    assert json.loads(http("GET", stack.loki_url + "/loki/api/v1/label/job/values")[1])["data"] == ["kafka", "x"]
    trace_id = "33" * 16
    status, _body = http(
        "POST", stack.tempo_otlp_url + "/v1/traces", otlp(trace_id, [span(trace_id, "c1" * 8, "p", NS, 1)])
    )
    assert status == 200
    assert http("GET", stack.tempo_otlp_url + "/api/search")[0] == 404  # the OTLP port only ingests
    assert http("GET", stack.tempo_url + "/api/echo") == (200, "echo")
    status, body = http("GET", stack.tempo_url + "/api/traces/" + trace_id)
    # Tempo answers with the jsonpb of its protobuf: ids in base64, enums by name
    answered = json.loads(body)["batches"][0]["scopeSpans"][0]["spans"][0]
    assert base64.b64decode(answered["spanId"]).hex() == "c1" * 8
    assert base64.b64decode(answered["traceId"]).hex() == trace_id
    assert answered["kind"] == "SPAN_KIND_PRODUCER"
    assert "parentSpanId" not in answered
    status, body = http("GET", stack.tempo_url + "/api/v2/traces/" + trace_id)
    assert "resourceSpans" in json.loads(body)["trace"]
    assert http("GET", stack.tempo_url + "/api/traces/" + "44" * 16) == (404, "")
    assert http("GET", stack.tempo_url + "/api/v2/traces/" + "44" * 16) == (404, "")
    assert http("GET", stack.tempo_url + "/api/v2/traces/not-hex")[0] == 400
    status, body = http(
        "GET", stack.tempo_url + "/api/search?" + urllib.parse.urlencode({"tags": "service.name=kafka"})
    )
    assert [t["traceID"] for t in json.loads(body)["traces"]] == [trace_id]
    status, body = http("GET", stack.tempo_url + "/api/search?q=" + urllib.parse.quote("{ .a = } "))
    assert status == 400
    assert body.startswith("invalid TraceQL query: ")
    assert "service.name" in json.loads(http("GET", stack.tempo_url + "/api/search/tags")[1])["tagNames"]
    values = json.loads(http("GET", stack.tempo_url + "/api/search/tag/service.name/values")[1])["tagValues"]
    assert values == ["kafka"]


def test_cli_starts_reports_its_ports_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "stack.json"
    config.write_text(json.dumps({"loki": {"listen": "127.0.0.1:0"}, "grafana": {"listen": "127.0.0.1:0"}}))
    script = s.__file__
    check = subprocess.run(
        [sys.executable, script, "--config", str(config), "--check"], check=False, capture_output=True, text=True
    )
    assert (check.returncode, check.stdout.strip()) == (0, "config OK")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert subprocess.run([sys.executable, script, "--config", str(bad)], check=False).returncode == 2
    for doc in (
        {"grafana": {"datasources": [{"name": "Thanos", "type": "prometheus"}]}},  # no url
        {"grafana": {"datasources": [{"uid": "a", "name": "A", "type": "loki", "url": "http://x"}] * 2}},
        {"grafana": {"tokens": [{"token": "t", "role": "Owner"}]}},
        {"loki": {"load": [{"streams": [{"stream": {}, "values": []}]}]}},
        {"loki": {"listen": "3100"}},
    ):
        bad.write_text(json.dumps(doc))
        checked = subprocess.run(
            [sys.executable, script, "--config", str(bad), "--check"], check=False, capture_output=True, text=True
        )
        assert checked.returncode == 2, doc
        assert checked.stderr.startswith("grafana stand-in: bad config"), checked.stderr
    proc = subprocess.Popen([sys.executable, script, "--config", str(config)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("grafana stand-in ready: grafana=http://127.0.0.1:")
        urls = dict(part.split("=", 1) for part in line.split(": ", 1)[1].split())
        wait_for(lambda: http("GET", urls["loki"] + "/ready")[0] == 200, timeout=10, what="loki stand-in ready")
        assert http("GET", urls["grafana"] + "/api/health")[0] == 200
        with open("/proc/%d/comm" % proc.pid) as handle:
            assert handle.read().strip() == "grafana-standin"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
