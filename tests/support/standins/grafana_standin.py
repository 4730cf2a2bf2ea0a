"""Grafana / Loki / Tempo stand-in: test support, NOT product.

Grafana, Loki and Tempo cannot be installed on the machines this collection is developed
and tested on. This stand-in follows the parts of their documented HTTP contracts that the
``grafana_*`` modules use, so that the modules can be exercised end to end against a REAL
Prometheus behind it. Python standard library only (it also runs inside the lab's
"monitoring" guest, which has python3 but no network and no pip packages). It is never
shipped (galaxy.yml build_ignore excludes tests/support).

CLI
===
    python3 tests/support/standins/grafana_standin.py --config stack.json
    python3 tests/support/standins/grafana_standin.py --config stack.json --check   # validate only

Starts every service whose section is present in the config and runs until SIGTERM/SIGINT.
When all listeners are up it prints one line to stdout, e.g.
``grafana stand-in ready: grafana=http://127.0.0.1:3000 loki=http://127.0.0.1:3100 tempo=http://127.0.0.1:3200``
(a port of 0 binds a free port; the line tells which one). Exit status 2 on a bad config.

Config (JSON)
=============
    {
      "grafana": {
        "listen": "0.0.0.0:3000",
        "tokens": [{"token": "glsa_lab_token", "role": "Admin", "org_id": 1}],
        "users":  [{"login": "admin", "password": "admin", "role": "Admin", "orgs": [1]}],
        "proxy_timeout": 30,
        "tls": {"cert": "/etc/grafana/cert.pem", "key": "/etc/grafana/key.pem"},   # optional: HTTPS
        "datasources": [
          {"uid": "thanos", "name": "Thanos", "type": "prometheus",
           "url": "http://127.0.0.1:9090", "isDefault": true},
          {"uid": "loki",  "name": "Loki",  "type": "loki",  "url": "{loki_url}"},
          {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "{tempo_url}"}
        ]
      },
      "loki":  {"listen": "127.0.0.1:3100",
                "load": [<Loki push bodies or OTLP/JSON ExportLogsServiceRequest bodies>],
                "default_resource_attributes_as_index_labels": [...]},   # optional, Loki's default list
      "tempo": {"listen": "127.0.0.1:3200", "otlp_listen": "127.0.0.1:4318",
                "api_v2_traces": true,     # false: answer /api/v2/traces like a Tempo without that API
                "load": [<OTLP/JSON ExportTraceServiceRequest bodies>]}
    }

- Datasource ``url`` may use ``{loki_url}`` / ``{tempo_url}``: replaced by the URL the Loki /
  Tempo stand-in of the same process actually bound. Optional datasource keys: ``id``
  (default: position + 1), ``orgId`` (default 1), ``access`` (default "proxy"),
  ``isDefault``, ``jsonData``, ``basicAuth`` + ``basicAuthUser`` + ``basicAuthPassword``
  (sent to the datasource by the proxy, never returned by the API), ``healthCheck`` (false: the
  health API answers 501, as for a plugin without a health check).
- ``role`` is Admin, Editor or Viewer. ``org_id``/``orgs``: organisations the credential
  belongs to (default [1]).
- ``load`` entries (or ``load_files``: paths to JSON files holding one body or a list of
  bodies) are ingested at start, exactly as if they had been pushed.

Importable: ``start_stack(config)`` returns a ``Stack`` (``grafana_url``, ``loki_url``,
``tempo_url``, ``loki``/``tempo`` stores with ``push()``/``ingest_otlp()``, ``stop()``), with
every server running in a daemon thread.

Grafana stand-in (what it does and does not do)
-----------------------------------------------
- ``GET /api/health`` (no auth).
- Auth on every other ``/api`` path: ``Authorization: Bearer <token>`` or Basic
  ``login:password``; missing or wrong -> 401 ``{"message": ...}``. ``X-Grafana-Org-Id``
  selects the organisation; a credential that does not belong to it -> 401.
- ``GET /api/datasources``, ``/api/datasources/:id``, ``/api/datasources/uid/:uid``,
  ``/api/datasources/name/:name``: need role Editor or Admin (403 for Viewer, standing in for
  the missing ``datasources:read`` permission); unknown -> 404
  ``{"message": "Data source not found"}``. Secrets are never returned.
- ``/api/datasources/proxy/uid/:uid/<path>`` and ``/api/datasources/proxy/:id/<path>``: a real
  HTTP reverse proxy to ``<datasource url>/<path>?<query>``, any method, body relayed, the
  caller's credentials stripped, the datasource's basic auth added. Prometheus datasources
  refuse DELETE/PUT and POSTs other than api/v1/query, query_range, series, labels,
  query_exemplars with 403 (Grafana's own messages). Unreachable datasource -> 502, timeout
  -> 504, both with an empty body (Grafana's reverse proxy does the same).
- ``GET /api/datasources/uid/:uid/health`` and ``/api/datasources/:id/health`` (any role, as Grafana
  asks for datasources:query): the datasource's health check, run by the stand-in's "backend" against
  the datasource URL as Grafana's does, answered as Grafana does - 200 ``{"status": "OK", "message":
  ...}``, 400 ``{"status": "ERROR", "message": ...}``, unknown datasource 500 ``Unable to load
  datasource metadata``. Prometheus (pkg/promlib/healthcheck.go): the instant query ``1+1`` at t=4 s
  (POST api/v1/query, GET with ``jsonData.httpMethod: GET``), "Successfully queried the Prometheus
  API." or "<error> - There was an error returned querying the Prometheus API.". Loki
  (pkg/tsdb/loki/healthcheck.go): GET loki/api/v1/query of ``vector(1)+vector(1)`` at t=4 s, which
  must answer one sample of 2: "Successfully queried the Loki API." or "There was an error returned
  querying the Loki API.: <error>". Tempo: what Grafana's Tempo datasource tests, GET api/echo,
  worded "Health check succeeded" / "Unable to connect with Tempo: <error>" (the stand-in's words).
  Transport errors are worded as Go's (``Post "http://h:p/api/v1/query": dial tcp h:p: connect:
  connection refused``). Other types, and a datasource configured with ``"healthCheck": false``
  (a plugin without a health check, or a Grafana without this API): 501 ``{"message": "Not
  implemented", "messageId": "plugin.notImplemented"}``.
- Optional ``tls`` (``cert``/``key`` PEM paths) serves HTTPS, like Grafana's cert_file/cert_key.
- ``Stack.grafana.requests`` records ``(method, path)`` of the last 1000 requests (tests use it
  to know that a module has polled).
- NOT implemented: ``/api/ds/query``, dashboards, users, anything else (404). Error bodies and
  messages follow Grafana's where known (401 ``Invalid API key`` / ``Invalid username or
  password`` / ``Unauthorized``, the proxy's 403 texts); the org-membership 401 text is this
  stand-in's own wording.

Loki stand-in
-------------
``GET /ready``; ``POST /loki/api/v1/push`` (JSON body ``{"streams": [{"stream": {labels},
"values": [["<ns>", "<line>"(, {structured metadata})]]}]}``, optionally gzip; protobuf -> 415;
entries are stored as given: the service_name and detected_level that Loki 3 adds to pushed
streams are not added here); ``POST /otlp/v1/logs`` (below); ``GET|POST
/loki/api/v1/query_range`` (query, start, end, limit=100, direction=backward, step),
``/loki/api/v1/query`` (instant: metric queries only; a log query is Loki's 400),
``/loki/api/v1/labels``, ``/loki/api/v1/label/<name>/values``, ``/loki/api/v1/series`` (these
three: stream labels only). Times: nanosecond epoch, seconds (with a dot or <= 10 digits) or RFC
3339, as Loki. Push endpoints answer 204, other methods 405.

OTLP logs (``POST /otlp/v1/logs``, where the collector's ``otlphttp`` exporter with ``endpoint:
http://<loki>:3100/otlp`` sends): OTLP/HTTP's JSON encoding only (``encoding: json`` on the
exporter; protobuf -> 415 saying so), gzip accepted, mapped as Loki 3 does by default:

- stream labels: the resource attributes of ``default_resource_attributes_as_index_labels``
  (service.name, service.namespace, service.instance.id, deployment.environment,
  deployment.environment.name, cloud.region, cloud.availability_zone, k8s.cluster.name,
  k8s.namespace.name, k8s.pod.name, k8s.container.name, container.name, k8s.replicaset.name,
  k8s.deployment.name, k8s.statefulset.name, k8s.daemonset.name, k8s.cronjob.name,
  k8s.job.name; the config key replaces the list), names with what is not [A-Za-z0-9_] as ``_``
  (``service.name`` -> ``service_name``). ``service_name`` is always there: service.name, else
  the first of those labels named as in Loki's discover_service_name (container_name,
  k8s_container_name, k8s_job_name, ...), else ``unknown_service``.
- structured metadata of each entry: the other resource attributes, the scope's attributes,
  ``scope_name``, ``scope_version``, the record's attributes (maps flattened with ``_``, values as
  strings), ``trace_id``, ``span_id`` (lower-case hex; all-zero ids left out), ``severity_number``,
  ``severity_text``, ``flags``, ``dropped_attributes_count``, ``observed_timestamp`` (when both
  times are set), and ``detected_level`` (Loki's discover_log_levels: a level/severity/lvl label or
  metadata, else the severity number's range, else the line's own level field or words, else
  ``unknown``).
- the line: the body, a string as is, any other value as the collector's pdata ``AsString`` (JSON
  with sorted keys for maps and arrays, Go's number formatting); the timestamp: timeUnixNano, else
  observedTimeUnixNano, else the time of arrival.
- a request with a bad id, a non-integer intValue or a malformed attribute is refused whole (400
  with the reason); bad JSON -> 400.

Query results show structured metadata as Loki 3 does: merged into the stream labels (one stream
per distinct label set), or, with the ``X-Loki-Response-Encoding-Flags: categorize-labels``
header, as a third element ``{"structuredMetadata": {...}}`` of each value (and
``"encodingFlags": ["categorize-labels"]`` in data). Stream selectors match stream labels only;
label filters also see structured metadata.

LogQL subset: stream selector ``{a="x", b!="y", c=~"re", d!~"re"}`` (regexes fully
anchored; at least one matcher must not match the empty string, as Loki requires), any
number of line filters ``|= "s"``, ``!= "s"``, ``|~ "re"``, ``!~ "re"`` and string label filters
``| name = "v"`` (``=``, ``==``, ``!=``, ``=~``, ``!~``), in any order; metric queries
``count_over_time(<log query>[<range>])``, ``rate(...)`` and ``sum [by|without (l, ...)] (...)``
around them (series labels include structured metadata), ``vector(<number>)``, and arithmetic ``+ -
* / %`` between them (one-to-one on identical label sets) or with a number, in parentheses or not
(what Grafana's Loki health check asks: ``vector(1)+vector(1)``). Anything else (parsers such as ``|
json``, numeric label filters, ``line_format``, other functions) is answered with Loki-style
400 ``parse error ...`` text, never guessed.

Tempo stand-in
--------------
``GET /ready``, ``GET /api/echo``; ``POST /v1/traces`` (OTLP/HTTP JSON encoding, trace and
span ids as hex; protobuf -> 415; a bad span refuses the whole request; a span id already
stored in the trace is kept once, as Tempo deduplicates), also on ``otlp_listen`` if given
(Tempo's 4318); ``GET /api/traces/<id>`` (``{"batches": [...]}``), ``/api/v2/traces/<id>``
(``{"trace": {"resourceSpans": [...]}}``); both write the spans as Tempo's jsonpb does (ids in
base64, ``kind``/status ``code`` by enum name such as ``SPAN_KIND_PRODUCER``, zero values left
out); an id of 1-32 hex digits (left-padded), else 400; an unknown trace -> 404 with an empty
body; with ``"api_v2_traces": false`` the v2 path answers Go's ``404 page not found`` (an older
Tempo). ``GET /api/search`` with ``q`` (TraceQL) or
``tags`` (logfmt), ``minDuration``, ``maxDuration``, ``limit`` (20), ``start``/``end`` (epoch
s; without them every stored trace is searched), ``/api/search/tags``,
``/api/v2/search/tags``, ``/api/search/tag/<tag>/values``, ``/api/v2/search/tag/<tag>/values``.
TraceQL subset: spansets ``{ <expr> }`` joined by ``&&`` / ``||``; inside, conditions joined
by ``&&`` / ``||`` with parentheses; a condition is ``<field> <op> <value>`` with op in
``= != =~ !~ > >= < <=``; fields: ``resource.<attr>``, ``span.<attr>``, ``.<attr>`` (span then
resource), intrinsics ``name``, ``status``, ``kind``, ``duration``, ``rootServiceName``,
``rootName``, ``traceDuration`` (and their ``span:``/``trace:`` spellings); values: strings,
numbers, durations (``150ms``), true/false, status (error, ok, unset) and kind names.
``{ }`` matches every span. Pipelines (``| count() > 1``), structural operators (``>>``,
``~``) and aggregates are rejected with a 400 ``invalid TraceQL query: ...`` text. A
``tags`` search ``k=v k2=v2`` is the TraceQL ``{ .k = "v" && .k2 = "v2" }`` (``name`` is the
span name), which is how Tempo 2 runs it.
"""

import argparse
import base64
import collections
import decimal
import gzip
import http.client
import json
import math
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["LogQLError", "LokiStore", "Stack", "TempoStore", "TraceQLError", "load_config", "start_stack"]

STANDIN_VERSION = "stand-in-1"


# --------------------------------------------------------------------------- helpers
def now_ns():
    return time.time_ns()


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}


def parse_duration(text):
    """'1h30m', '150ms', '2.5s' -> seconds (float). Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            raise ValueError("not a valid duration string: %r" % text)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError("not a valid duration string: %r" % text)
    return total


def parse_loki_time(value, default_ns):
    """Loki's time parameter: ns epoch, seconds (float or <= 10 digits) or RFC 3339 -> ns."""
    if value is None or value == "":
        return default_ns
    if "." in value:
        try:
            return round(float(value) * 1e9)
        except ValueError:
            pass
    try:
        number = int(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError('cannot parse "%s" to a valid timestamp' % value) from None
        return int(parsed.timestamp() * 1e9)
    if len(value.lstrip("-")) <= 10:
        return number * 1000000000
    return number


def parse_seconds_param(value, name):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError('invalid %s: "%s" is not a Unix epoch in seconds' % (name, value)) from None


def go_unquote(token):
    """Unquote a "..." (Go escapes) or `...` string token."""
    if token.startswith("`"):
        return token[1:-1]
    body = token[1:-1]
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a", "b": "\b", "f": "\f"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in escapes:
                out.append(escapes[nxt])
                i += 2
                continue
            if nxt == "u" and i + 5 < len(body):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Token:
    __slots__ = ("col", "kind", "text")

    def __init__(self, kind, text, col):
        self.kind = kind
        self.text = text
        self.col = col

    def __repr__(self):
        return "%s(%r)" % (self.kind, self.text)


def _tokenize(text, patterns, error_cls, prefix):
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        for kind, regex in patterns:
            match = regex.match(text, pos)
            if match:
                tokens.append(_Token(kind, match.group(0), pos + 1))
                pos = match.end()
                break
        else:
            raise error_cls(
                "%sparse error at line 1, col %d: syntax error: unexpected character %r" % (prefix, pos + 1, text[pos])
            )
    tokens.append(_Token("EOF", "", len(text) + 1))
    return tokens


class _Parser:
    error_cls = ValueError
    prefix = ""

    def __init__(self, text, patterns):
        self.text = text
        self.tokens = _tokenize(text, patterns, self.error_cls, self.prefix)
        self.pos = 0

    def peek(self, offset=0):
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self):
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, token, expecting=None):
        what = "end of input" if token.kind == "EOF" else "%s %r" % (token.kind, token.text)
        msg = "%sparse error at line 1, col %d: syntax error: unexpected %s" % (self.prefix, token.col, what)
        if expecting:
            msg += ", expecting %s" % expecting
        raise self.error_cls(msg)

    def expect(self, kind, text=None):
        token = self.peek()
        if token.kind != kind or (text is not None and token.text != text):
            self.fail(token, text or kind)
        return self.take()


def _compile_regex(pattern, error_cls, prefix, anchored):
    try:
        return re.compile("(?:%s)\\Z" % pattern if anchored else pattern, re.DOTALL if anchored else 0)
    except re.error as exc:
        raise error_cls("%serror parsing regexp: %s: `%s`" % (prefix, exc, pattern)) from None


# --------------------------------------------------------------------------- LogQL
class LogQLError(ValueError):
    """A query this stand-in cannot parse: Loki answers such queries with a 400 and this text."""


_LOGQL_TOKENS = [
    ("STRING", re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')),
    ("DURATION", re.compile(r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y)(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))*")),
    ("NUMBER", re.compile(r"\d+(?:\.\d+)?")),
    ("OP", re.compile(r"\|=|\|~|!=|!~|=~|==|=|\||\{|\}|\(|\)|\[|\]|,|>=|<=|>|<|\+|-|\*|/|%")),
    ("IDENTIFIER", re.compile(r"[A-Za-z_][A-Za-z0-9_]*")),
]


class LabelMatcher:
    def __init__(self, name, op, value, error_cls=LogQLError, prefix=""):
        self.name, self.op, self.value = name, op, value
        self.regex = _compile_regex(value, error_cls, prefix, True) if op in ("=~", "!~") else None

    def matches(self, labels):
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.regex.match(actual) is not None
        return found if self.op == "=~" else not found

    def matches_empty(self):
        return self.matches({})


class LineFilter:
    def __init__(self, op, value):
        self.op, self.value = op, value
        self.regex = _compile_regex(value, LogQLError, "", False) if op in ("|~", "!~") else None

    def matches(self, line, labels=None):
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        found = self.regex.search(line) is not None
        return found if self.op == "|~" else not found


class LabelFilter:
    """``| name = "value"`` (=, ==, !=, =~, !~) on the entry's labels: stream labels and structured metadata."""

    def __init__(self, name, op, value):
        self.matcher = LabelMatcher(name, "=" if op == "==" else op, value)

    def matches(self, line, labels=None):
        return self.matcher.matches(labels or {})


class LogQuery:
    kind = "log"

    def __init__(self, matchers, filters):
        self.matchers, self.filters = matchers, filters

    def stream_matches(self, labels):
        return all(m.matches(labels) for m in self.matchers)

    def entry_matches(self, line, labels):
        return all(f.matches(line, labels) for f in self.filters)


class RangeAggregation:
    kind = "metric"

    def __init__(self, func, inner, range_s):
        self.func, self.inner, self.range_s = func, inner, range_s


class VectorAggregation:
    kind = "metric"

    def __init__(self, op, grouping, labels, inner):
        self.op, self.grouping, self.labels, self.inner = op, grouping, labels, inner


class VectorLiteral:
    """``vector(<number>)``: one sample without labels (what Grafana's Loki health check asks for)."""

    kind = "metric"

    def __init__(self, value):
        self.value = value


class NumberLiteral:
    kind = "scalar"

    def __init__(self, value):
        self.value = value


class BinaryOp:
    """``a + b`` (+ - * / %) between metric expressions (one-to-one on identical label sets), or with a number."""

    kind = "metric"
    FUNCS = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a)),
        "%": lambda a, b: math.fmod(a, b) if b else math.nan,
    }

    def __init__(self, op, left, right):
        self.op, self.left, self.right = op, left, right


class _LogQLParser(_Parser):
    error_cls = LogQLError

    def __init__(self, text):
        super().__init__(text, _LOGQL_TOKENS)

    def parse(self):
        if self.peek().kind == "EOF":
            raise LogQLError("parse error : syntax error: unexpected $end")
        expr = self.parse_sum()
        if self.peek().kind != "EOF":
            self.fail(self.peek())
        if isinstance(expr, NumberLiteral):
            raise LogQLError(
                "parse error : this Loki stand-in evaluates arithmetic with at least one vector operand only"
            )
        return expr

    def _binary(self, operand, ops):
        left = operand()
        while self.peek().kind == "OP" and self.peek().text in ops:
            op_token = self.take()
            right = operand()
            for side, leg in ((left, "left"), (right, "right")):
                if isinstance(side, LogQuery):
                    raise LogQLError(
                        "parse error at line 1, col %d: unexpected type for %s leg of binary operation (%s): a "
                        "log query is not a vector" % (op_token.col, leg, op_token.text)
                    )
            if isinstance(left, NumberLiteral) and isinstance(right, NumberLiteral):
                left = NumberLiteral(BinaryOp.FUNCS[op_token.text](left.value, right.value))
            else:
                left = BinaryOp(op_token.text, left, right)
        return left

    def parse_sum(self):
        return self._binary(self.parse_product, ("+", "-"))

    def parse_product(self):
        return self._binary(self.parse_expr, ("*", "/", "%"))

    def parse_expr(self):
        token = self.peek()
        if token.kind == "OP" and token.text == "{":
            return self.parse_log()
        if token.kind == "OP" and token.text == "(":
            self.take()
            inner = self.parse_sum()
            self.expect("OP", ")")
            return inner
        if token.kind == "NUMBER":
            return NumberLiteral(float(self.take().text))
        if token.kind == "IDENTIFIER" and token.text in ("count_over_time", "rate"):
            return self.parse_range_agg()
        if token.kind == "IDENTIFIER" and token.text == "sum":
            return self.parse_vector_agg()
        if token.kind == "IDENTIFIER" and token.text == "vector":
            self.take()
            self.expect("OP", "(")
            value = float(self.expect("NUMBER").text)
            self.expect("OP", ")")
            return VectorLiteral(value)
        if token.kind == "IDENTIFIER":
            raise LogQLError(
                "parse error at line 1, col %d: syntax error: unexpected IDENTIFIER %r"
                " (this Loki stand-in only supports count_over_time, rate, sum and vector)" % (token.col, token.text)
            )
        return self.fail(token)

    def parse_log(self):
        self.expect("OP", "{")
        matchers = []
        while True:
            if self.peek().kind == "OP" and self.peek().text == "}":
                break
            name = self.expect("IDENTIFIER").text
            op_token = self.take()
            if op_token.kind != "OP" or op_token.text not in ("=", "!=", "=~", "!~"):
                self.fail(op_token, "= != =~ !~")
            value = go_unquote(self.expect("STRING").text)
            matchers.append(LabelMatcher(name, op_token.text, value))
            if self.peek().kind == "OP" and self.peek().text == ",":
                self.take()
                continue
            break
        self.expect("OP", "}")
        if not matchers or all(m.matches_empty() for m in matchers):
            raise LogQLError(
                "parse error : queries require at least one regexp or equality matcher that does not have an "
                'empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will'
            )
        filters = []
        while self.peek().kind == "OP" and self.peek().text in ("|=", "!=", "|~", "!~", "|"):
            op_token = self.take()
            if op_token.text == "|":
                filters.append(self.parse_label_filter())
                continue
            value = go_unquote(self.expect("STRING").text)
            filters.append(LineFilter(op_token.text, value))
        return LogQuery(matchers, filters)

    def parse_label_filter(self):
        """After ``|``: a string label filter ``name op "value"``; anything else is not implemented."""
        name, op_token, value_token = self.peek(), self.peek(1), self.peek(2)
        if (
            name.kind == "IDENTIFIER"
            and op_token.kind == "OP"
            and op_token.text in ("=", "==", "!=", "=~", "!~")
            and value_token.kind == "STRING"
        ):
            self.pos += 3
            return LabelFilter(name.text, op_token.text, go_unquote(value_token.text))
        raise LogQLError(
            "parse error at line 1, col %d: syntax error: unexpected %s (this Loki stand-in supports line filters "
            '|= != |~ !~ and string label filters such as | detected_level="error" only, no parsers, numeric '
            "label filters or formatting stages)" % (name.col, name.text or "end of input")
        )

    def parse_range_agg(self):
        func = self.take().text
        self.expect("OP", "(")
        inner = self.parse_log()
        self.expect("OP", "[")
        range_s = parse_duration(self.expect("DURATION").text)
        self.expect("OP", "]")
        self.expect("OP", ")")
        return RangeAggregation(func, inner, range_s)

    def _grouping(self):
        token = self.peek()
        if token.kind == "IDENTIFIER" and token.text in ("by", "without"):
            self.take()
            self.expect("OP", "(")
            labels = []
            while not (self.peek().kind == "OP" and self.peek().text == ")"):
                labels.append(self.expect("IDENTIFIER").text)
                if self.peek().kind == "OP" and self.peek().text == ",":
                    self.take()
            self.expect("OP", ")")
            return token.text, labels
        return None, []

    def parse_vector_agg(self):
        op = self.take().text
        grouping, labels = self._grouping()
        self.expect("OP", "(")
        token = self.peek()
        inner = self.parse_vector_agg() if token.text == "sum" else self.parse_range_agg()
        self.expect("OP", ")")
        if grouping is None:
            grouping, labels = self._grouping()
        return VectorAggregation(op, grouping, labels, inner)


def parse_logql(text):
    return _LogQLParser(text).parse()


def _apply_limit_direction(entries, limit, direction):
    """entries: list of (ns, line, labels_key). Loki applies the limit to all streams together."""
    entries.sort(key=lambda e: e[0], reverse=(direction == "backward"))
    return entries[:limit]


# Loki 3's OTLP mapping (distributor.otlp_config.default_resource_attributes_as_index_labels, and
# validation.discover_service_name, their defaults).
LOKI_OTLP_INDEX_LABELS = (
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
)
LOKI_DISCOVER_SERVICE_NAME = (
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
)
LOKI_UNKNOWN_SERVICE = "unknown_service"
_LEVEL_FIELDS = ("level", "LEVEL", "Level", "severity", "SEVERITY", "Severity", "lvl", "LVL", "Lvl")
_SEVERITY_NUMBERS = {
    "SEVERITY_NUMBER_UNSPECIFIED": 0,
    "SEVERITY_NUMBER_TRACE": 1,
    "SEVERITY_NUMBER_TRACE2": 2,
    "SEVERITY_NUMBER_TRACE3": 3,
    "SEVERITY_NUMBER_TRACE4": 4,
    "SEVERITY_NUMBER_DEBUG": 5,
    "SEVERITY_NUMBER_DEBUG2": 6,
    "SEVERITY_NUMBER_DEBUG3": 7,
    "SEVERITY_NUMBER_DEBUG4": 8,
    "SEVERITY_NUMBER_INFO": 9,
    "SEVERITY_NUMBER_INFO2": 10,
    "SEVERITY_NUMBER_INFO3": 11,
    "SEVERITY_NUMBER_INFO4": 12,
    "SEVERITY_NUMBER_WARN": 13,
    "SEVERITY_NUMBER_WARN2": 14,
    "SEVERITY_NUMBER_WARN3": 15,
    "SEVERITY_NUMBER_WARN4": 16,
    "SEVERITY_NUMBER_ERROR": 17,
    "SEVERITY_NUMBER_ERROR2": 18,
    "SEVERITY_NUMBER_ERROR3": 19,
    "SEVERITY_NUMBER_ERROR4": 20,
    "SEVERITY_NUMBER_FATAL": 21,
    "SEVERITY_NUMBER_FATAL2": 22,
    "SEVERITY_NUMBER_FATAL3": 23,
    "SEVERITY_NUMBER_FATAL4": 24,
}
_LEVEL_WORDS = {
    "trace": "trace",
    "trc": "trace",
    "debug": "debug",
    "dbg": "debug",
    "info": "info",
    "inf": "info",
    "warn": "warn",
    "wrn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "critical": "critical",
    "fatal": "fatal",
}


def otlp_label_name(name):
    """An OTLP attribute name as a Loki label name: what is not [A-Za-z0-9_] becomes _ (service.name: service_name)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if name and name[0].isdigit():
        return "key_" + name
    if name.startswith("_") and not name.startswith("__"):
        return "key" + name
    return name


def _go_float(number):
    """A float64 as the collector's pdata prints it (ES6 number to string, as Go's encoding/json)."""
    if math.isnan(number) or math.isinf(number):
        return "json: unsupported value: %s" % ("NaN" if math.isnan(number) else "+Inf" if number > 0 else "-Inf")
    text = repr(float(number))
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", text)
    text = format(decimal.Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _otlp_int(value, what="intValue"):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("invalid %s %r: not an integer" % (what, value)) from None


class _Bytes(str):
    """An OTLP bytesValue: base64 in the JSON encoding, which is also how pdata prints it."""


def _otlp_raw(value):
    """OTLP/JSON AnyValue -> plain JSON-able value (pdata's AsRaw)."""
    if not isinstance(value, dict):
        raise ValueError("invalid AnyValue %r: expected an object" % (value,))
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return _otlp_int(value["intValue"])
    if "doubleValue" in value:
        double = value["doubleValue"]
        if isinstance(double, str) and double in ("NaN", "Infinity", "-Infinity"):
            return float(double.replace("Infinity", "inf"))
        return float(double)
    if "bytesValue" in value:
        return _Bytes(value["bytesValue"])
    if "arrayValue" in value:
        return [_otlp_raw(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return {kv["key"]: _otlp_raw(kv.get("value") or {}) for kv in (value["kvlistValue"] or {}).get("values") or []}
    return None


def _go_json(value):
    """JSON as Go's encoding/json writes it: no spaces, map keys sorted, <>& escaped, floats as ES6 numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
            text = text.replace(char, escaped)
        return text.replace("\u2029", "\\u2029")
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    return "{" + ",".join("%s:%s" % (_go_json(k), _go_json(value[k])) for k in sorted(value)) + "}"


def otlp_as_string(value):
    """An OTLP/JSON AnyValue as the collector's pdata Value.AsString() (what Loki makes of a body or attribute)."""
    raw = _otlp_raw(value)
    if raw is None:
        return ""
    if isinstance(raw, (dict, list)):
        return _go_json(raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):
        return _go_float(raw)
    return str(raw)


def otlp_attribute_labels(key, value, prefix=""):
    """[(label, value)] of one attribute: dots to underscores, maps flattened with _ (Loki's attributeToLabels)."""
    name = otlp_label_name(prefix + "_" + key if prefix else key)
    if isinstance(value, dict) and "kvlistValue" in value:
        pairs = []
        for item in (value["kvlistValue"] or {}).get("values") or []:
            pairs.extend(otlp_attribute_labels(item.get("key", ""), item.get("value") or {}, name))
        return pairs
    return [(name, otlp_as_string(value or {}))]


def _otlp_attributes(items):
    pairs = []
    for item in items or []:
        if not isinstance(item, dict) or "key" not in item:
            raise ValueError('invalid attribute %r: expected {"key": ..., "value": {...}}' % (item,))
        pairs.extend(otlp_attribute_labels(item["key"], item.get("value") or {}))
    return pairs


def _otlp_hex_id(value, size, what):
    """traceId / spanId of OTLP's JSON encoding (hex) -> lowercase hex, '' when absent or all zero."""
    if not value:
        return ""
    text = str(value)
    if not re.fullmatch(r"[0-9a-fA-F]{%d}" % (size * 2), text):
        raise ValueError("invalid %s %r: OTLP/JSON needs %d hex digits" % (what, text, size * 2))
    return "" if set(text) == {"0"} else text.lower()


def _severity_number(value):
    if value in (None, ""):
        return 0
    if isinstance(value, str) and value in _SEVERITY_NUMBERS:
        return _SEVERITY_NUMBERS[value]
    return _otlp_int(value, "severityNumber")


def _level_from_line(line):
    """Loki's level detection from the line itself: a level field (JSON, logfmt), else words in the text."""
    stripped = line.strip()
    value = None
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            value = next((str(doc[f]) for f in _LEVEL_FIELDS if f in doc), None)
    elif "=" in line:
        match = re.search(r"(?:^|\s)(?:%s)=\"?([^\s\"]*)" % "|".join(_LEVEL_FIELDS), line)
        value = match.group(1) if match else None
    if value is not None and value.lower() in _LEVEL_WORDS:
        return _LEVEL_WORDS[value.lower()]
    for words, level in (
        (("info", "INFO"), "info"),
        (("err:", "ERR:", "error", "ERROR"), "error"),
        (("warn:", "WARN:", "warning", "WARNING"), "warn"),
        (("CRITICAL:", "critical:"), "critical"),
        (("debug:", "DEBUG:"), "debug"),
    ):
        if any(word in line for word in words):
            return level
    return "unknown"


def detected_level(labels, metadata, line):
    """Loki's discover_log_levels: a level label, a level in structured metadata, the OTLP severity number, the line."""
    for source in (labels, metadata):
        for field in _LEVEL_FIELDS:
            if source.get(field):
                return source[field]
    if metadata.get("severity_number"):
        number = int(metadata["severity_number"])
        for upper, level in ((4, "trace"), (8, "debug"), (12, "info"), (16, "warn"), (20, "error"), (24, "fatal")):
            if number <= upper:
                return level
        return "unknown"
    return _level_from_line(line)


def _metadata_key(metadata):
    return tuple(sorted((str(k), str(v)) for k, v in (metadata or {}).items()))


class LokiStore:
    """In-memory log streams, fed through push() (Loki's push API body) and ingest_otlp() (OTLP/JSON logs)."""

    def __init__(self, index_labels=LOKI_OTLP_INDEX_LABELS):
        self._lock = threading.Lock()
        self._streams = {}  # tuple(sorted(labels.items())) -> list of (ns, line, metadata key)
        self.index_labels = tuple(index_labels)

    def _add(self, entries):
        """entries: [(stream labels dict, ns, line, metadata dict)], stored together (all or nothing)."""
        with self._lock:
            touched = set()
            for labels, ns, line, metadata in entries:
                key = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
                self._streams.setdefault(key, []).append((int(ns), str(line), _metadata_key(metadata)))
                touched.add(key)
            for key in touched:
                self._streams[key].sort(key=lambda e: e[0])
        return len(entries)

    def push(self, body):
        """Ingest one Loki push body ({"streams": [...]}). Returns the number of entries."""
        if not isinstance(body, dict) or not isinstance(body.get("streams"), list):
            raise ValueError('the push body needs a "streams" list')
        entries = []
        for stream in body["streams"]:
            labels = stream.get("stream")
            if not isinstance(labels, dict) or not labels:
                raise ValueError("error at least one label pair is required per stream")
            for name in labels:
                if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                    raise ValueError('error parsing labels: invalid label name "%s"' % name)
            for value in stream.get("values") or []:
                if not isinstance(value, list) or len(value) < 2:
                    raise ValueError("each value must be [<unix epoch in nanoseconds>, <log line>(, {metadata})]")
                metadata = value[2] if len(value) > 2 else None
                if metadata is not None and not isinstance(metadata, dict):
                    raise ValueError("structured metadata must be an object of strings")
                entries.append((labels, int(value[0]), value[1], metadata))
        return self._add(entries)

    def otlp_entries(self, body):
        """An OTLP/JSON ExportLogsServiceRequest -> [(stream labels, ns, line, metadata)], as Loki 3 maps it."""
        if not isinstance(body, dict):
            raise ValueError("the OTLP logs body must be a JSON object (ExportLogsServiceRequest)")
        resource_logs = body.get("resourceLogs")
        if resource_logs is None:
            resource_logs = []
        if not isinstance(resource_logs, list):
            raise ValueError('"resourceLogs" must be a list')
        entries = []
        for resource_log in resource_logs:
            resource = resource_log.get("resource") or {}
            labels, resource_metadata = {}, []
            service_name = None
            for item in resource.get("attributes") or []:
                if not isinstance(item, dict) or "key" not in item:
                    raise ValueError("invalid resource attribute %r" % (item,))
                pairs = otlp_attribute_labels(item["key"], item.get("value") or {})
                if item["key"] not in self.index_labels:
                    resource_metadata.extend(pairs)
                    continue
                for name, value in pairs:
                    if value == "":
                        continue
                    labels[name] = value
                    if service_name is None and name in LOKI_DISCOVER_SERVICE_NAME:
                        service_name = value
            if not labels.get("service_name"):
                labels["service_name"] = service_name or LOKI_UNKNOWN_SERVICE
            for scope_log in resource_log.get("scopeLogs") or resource_log.get("instrumentationLibraryLogs") or []:
                scope = scope_log.get("scope") or scope_log.get("instrumentationLibrary") or {}
                scope_metadata = _otlp_attributes(scope.get("attributes"))
                for field, name in (("name", "scope_name"), ("version", "scope_version")):
                    if scope.get(field):
                        scope_metadata.append((name, str(scope[field])))
                if scope.get("droppedAttributesCount"):
                    scope_metadata.append(("scope_dropped_attributes_count", str(int(scope["droppedAttributesCount"]))))
                for record in scope_log.get("logRecords") or []:
                    entries.append(self._otlp_entry(labels, record, resource_metadata + scope_metadata))
        return entries

    def _otlp_entry(self, labels, record, shared_metadata):
        if not isinstance(record, dict):
            raise ValueError("invalid log record %r" % (record,))
        metadata = dict(_otlp_attributes(record.get("attributes")))
        time_ns = _otlp_int(record.get("timeUnixNano") or 0, "timeUnixNano")
        observed_ns = _otlp_int(record.get("observedTimeUnixNano") or 0, "observedTimeUnixNano")
        if time_ns and observed_ns:
            metadata["observed_timestamp"] = str(observed_ns)
        severity = _severity_number(record.get("severityNumber"))
        if severity:
            metadata["severity_number"] = str(severity)
        if record.get("severityText"):
            metadata["severity_text"] = str(record["severityText"])
        if record.get("droppedAttributesCount"):
            metadata["dropped_attributes_count"] = str(_otlp_int(record["droppedAttributesCount"]))
        if record.get("flags"):
            metadata["flags"] = str(_otlp_int(record["flags"], "flags"))
        trace_id = _otlp_hex_id(record.get("traceId"), 16, "traceId")
        span_id = _otlp_hex_id(record.get("spanId"), 8, "spanId")
        if trace_id:
            metadata["trace_id"] = trace_id
        if span_id:
            metadata["span_id"] = span_id
        metadata.update(shared_metadata)
        line = otlp_as_string(record["body"]) if record.get("body") else ""
        metadata["detected_level"] = detected_level(labels, metadata, line)
        return dict(labels), time_ns or observed_ns or now_ns(), line, metadata

    def ingest_otlp(self, body):
        """Ingest one OTLP/JSON ExportLogsServiceRequest (all its records, or none on an error). Returns the count."""
        return self._add(self.otlp_entries(body))

    def streams(self):
        """[(stream labels, [(ns, line, metadata dict)])]."""
        with self._lock:
            items = [(dict(key), list(entries)) for key, entries in self._streams.items()]
        return [(labels, [(ns, line, dict(meta)) for ns, line, meta in entries]) for labels, entries in items]

    def select(self, query, start_ns, end_ns):
        """[(stream labels, [(ns, line, metadata), ...])] for a LogQuery within [start, end).

        The stream selector sees the stream labels only; label filters see the stream labels and the
        entry's structured metadata (as in Loki)."""
        selected = []
        for labels, entries in self.streams():
            if not query.stream_matches(labels):
                continue
            kept = [
                (ns, line, meta)
                for ns, line, meta in entries
                if start_ns <= ns < end_ns and query.entry_matches(line, dict(meta, **labels))
            ]
            if kept:
                selected.append((labels, kept))
        return selected

    def query_logs(self, query, start_ns, end_ns, limit, direction, *, categorize=False):
        """Loki's "streams" result. Structured metadata joins the stream labels (a stream per distinct set),
        unless categorize (X-Loki-Response-Encoding-Flags: categorize-labels) puts it in a third value."""
        flat = []
        for labels, entries in self.select(query, start_ns, end_ns):
            key = tuple(sorted(labels.items()))
            flat.extend((ns, line, key, _metadata_key(meta)) for ns, line, meta in entries)
        flat = _apply_limit_direction(flat, limit, direction)
        grouped = {}
        for ns, line, key, meta in flat:
            if categorize:
                value = [str(ns), line] + ([{"structuredMetadata": dict(meta)}] if meta else [])
                grouped.setdefault(key, []).append(value)
            else:
                grouped.setdefault(tuple(sorted(dict(meta, **dict(key)).items())), []).append([str(ns), line])
        return [{"stream": dict(key), "values": values} for key, values in grouped.items()]

    def _range_agg_at(self, agg, eval_ns):
        range_ns = int(agg.range_s * 1e9)
        counts = {}
        for labels, entries in self.select(agg.inner, eval_ns - range_ns, eval_ns + 1):
            for ns, _line, meta in entries:
                if eval_ns - range_ns < ns <= eval_ns:
                    key = tuple(sorted(dict(meta, **labels).items()))
                    counts[key] = counts.get(key, 0) + 1
        return {
            key: float(count if agg.func == "count_over_time" else count / agg.range_s) for key, count in counts.items()
        }

    def eval_metric(self, expr, eval_ns):
        if isinstance(expr, RangeAggregation):
            return self._range_agg_at(expr, eval_ns)
        if isinstance(expr, VectorLiteral):
            return {(): expr.value}
        if isinstance(expr, BinaryOp):
            func = BinaryOp.FUNCS[expr.op]
            if isinstance(expr.left, NumberLiteral) or isinstance(expr.right, NumberLiteral):
                number_left = isinstance(expr.left, NumberLiteral)
                number = (expr.left if number_left else expr.right).value
                vector = self.eval_metric(expr.right if number_left else expr.left, eval_ns)
                return {k: func(number, v) if number_left else func(v, number) for k, v in vector.items()}
            left, right = self.eval_metric(expr.left, eval_ns), self.eval_metric(expr.right, eval_ns)
            return {k: func(v, right[k]) for k, v in left.items() if k in right}
        inner = self.eval_metric(expr.inner, eval_ns)
        out = {}
        for key, value in inner.items():
            labels = dict(key)
            if expr.grouping == "by":
                labels = {k: v for k, v in labels.items() if k in expr.labels}
            elif expr.grouping == "without":
                labels = {k: v for k, v in labels.items() if k not in expr.labels}
            else:
                labels = {}
            group = tuple(sorted(labels.items()))
            out[group] = out.get(group, 0.0) + value
        return out

    def label_names(self):
        return sorted({name for labels, _entries in self.streams() for name in labels})

    def label_values(self, name):
        return sorted({labels[name] for labels, _entries in self.streams() if name in labels})


# --------------------------------------------------------------------------- TraceQL
class TraceQLError(ValueError):
    """A query this stand-in cannot parse: Tempo answers such queries with a 400 and this text."""


_TRACEQL_TOKENS = [
    ("STRING", re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')),
    ("DURATION", re.compile(r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)(?![A-Za-z0-9_])")),
    ("NUMBER", re.compile(r"-?\d+(?:\.\d+)?(?![A-Za-z_])")),
    ("OP", re.compile(r"&&|\|\||>>|<<|!=|!~|=~|>=|<=|=|>|<|\{|\}|\(|\)|\||~|!")),
    (
        "IDENTIFIER",
        re.compile(r"(?:resource|span|trace|event|link|instrumentation)?[.:][A-Za-z0-9_.\-/]+|[A-Za-z_][A-Za-z0-9_]*"),
    ),
]

_STATUS = {"unset": 0, "ok": 1, "error": 2}
_KIND = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_INTRINSICS = {
    "name": "name",
    "span:name": "name",
    "status": "status",
    "span:status": "status",
    "kind": "kind",
    "span:kind": "kind",
    "duration": "duration",
    "span:duration": "duration",
    "rootServiceName": "rootServiceName",
    "trace:rootService": "rootServiceName",
    "rootName": "rootName",
    "trace:rootName": "rootName",
    "traceDuration": "traceDuration",
    "trace:duration": "traceDuration",
}


class _Enum:
    def __init__(self, family, value):
        self.family, self.value = family, value

    def __eq__(self, other):
        return isinstance(other, _Enum) and (self.family, self.value) == (other.family, other.value)

    def __hash__(self):
        return hash((self.family, self.value))


class Condition:
    def __init__(self, field, op, value, regex=None):
        self.field, self.op, self.value, self.regex = field, op, value, regex

    def evaluate(self, span, trace):
        actual = _field_value(self.field, span, trace)
        if actual is None:
            return False
        value = self.value
        if self.op in ("=~", "!~"):
            if not isinstance(actual, str):
                return False
            found = self.regex.match(actual) is not None
            return found if self.op == "=~" else not found
        if isinstance(value, _Enum) or isinstance(actual, _Enum):
            if self.op not in ("=", "!="):
                return False
            return (actual == value) if self.op == "=" else (actual != value)
        if isinstance(value, bool) or isinstance(actual, bool):
            if not (isinstance(value, bool) and isinstance(actual, bool)) or self.op not in ("=", "!="):
                return False
            return (actual == value) if self.op == "=" else (actual != value)
        if isinstance(value, str) != isinstance(actual, str):
            return False
        ops = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        return ops[self.op](actual, value)


class BoolExpr:
    def __init__(self, op, left, right):
        self.op, self.left, self.right = op, left, right

    def evaluate(self, span, trace):
        if self.op == "&&":
            return self.left.evaluate(span, trace) and self.right.evaluate(span, trace)
        return self.left.evaluate(span, trace) or self.right.evaluate(span, trace)


class MatchAll:
    def evaluate(self, span, trace):
        return True


class SpansetFilter:
    def __init__(self, expr):
        self.expr = expr

    def matched_spans(self, trace):
        return [span for span in trace.spans if self.expr.evaluate(span, trace)]


class SpansetOp:
    def __init__(self, op, left, right):
        self.op, self.left, self.right = op, left, right

    def matched_spans(self, trace):
        left, right = self.left.matched_spans(trace), self.right.matched_spans(trace)
        if self.op == "&&":
            if left and right:
                return left + [s for s in right if s not in left]
            return []
        return left + [s for s in right if s not in left]


def _field_value(field, span, trace):
    scope, name = field
    if scope == "intrinsic":
        if name == "name":
            return span.name
        if name == "status":
            return _Enum("status", span.status)
        if name == "kind":
            return _Enum("kind", span.kind)
        if name == "duration":
            return (span.end_ns - span.start_ns) / 1e9
        if name == "rootServiceName":
            return trace.root_service
        if name == "rootName":
            return trace.root_name
        if name == "traceDuration":
            return trace.duration_ns / 1e9
        return None
    if scope == "span":
        return span.attributes.get(name)
    if scope == "resource":
        return span.resource.get(name)
    if name in span.attributes:
        return span.attributes[name]
    return span.resource.get(name)


class _TraceQLParser(_Parser):
    error_cls = TraceQLError
    prefix = "invalid TraceQL query: "

    def __init__(self, text):
        super().__init__(text, _TRACEQL_TOKENS)

    def parse(self):
        expr = self.parse_spanset_expr()
        token = self.peek()
        if token.kind != "EOF":
            if token.kind == "OP" and token.text in ("|", ">>", "<<", ">", "<", "~", "!"):
                raise TraceQLError(
                    "invalid TraceQL query: parse error at line 1, col %d: %r is not supported by this Tempo stand-in "
                    "(no pipelines, aggregates or structural operators)" % (token.col, token.text)
                )
            self.fail(token)
        return expr

    def parse_spanset_expr(self):
        left = self.parse_spanset_primary()
        while self.peek().kind == "OP" and self.peek().text in ("&&", "||"):
            op = self.take().text
            left = SpansetOp(op, left, self.parse_spanset_primary())
        return left

    def parse_spanset_primary(self):
        token = self.peek()
        if token.kind == "OP" and token.text == "(":
            self.take()
            inner = self.parse_spanset_expr()
            self.expect("OP", ")")
            return inner
        self.expect("OP", "{")
        if self.peek().kind == "OP" and self.peek().text == "}":
            self.take()
            return SpansetFilter(MatchAll())
        expr = self.parse_or()
        self.expect("OP", "}")
        return SpansetFilter(expr)

    def parse_or(self):
        left = self.parse_and()
        while self.peek().kind == "OP" and self.peek().text == "||":
            self.take()
            left = BoolExpr("||", left, self.parse_and())
        return left

    def parse_and(self):
        left = self.parse_primary()
        while self.peek().kind == "OP" and self.peek().text == "&&":
            self.take()
            left = BoolExpr("&&", left, self.parse_primary())
        return left

    def parse_primary(self):
        token = self.peek()
        if token.kind == "OP" and token.text == "(":
            self.take()
            inner = self.parse_or()
            self.expect("OP", ")")
            return inner
        return self.parse_condition()

    def parse_field(self, token):
        text = token.text
        if text in _INTRINSICS:
            return ("intrinsic", _INTRINSICS[text])
        for prefix, scope in (("resource.", "resource"), ("span.", "span"), (".", "any")):
            if text.startswith(prefix) and len(text) > len(prefix):
                return (scope, text[len(prefix) :])
        raise TraceQLError(
            "invalid TraceQL query: parse error at line 1, col %d: unknown or unsupported attribute %r "
            "(use resource.<name>, span.<name>, .<name> or an intrinsic)" % (token.col, text)
        )

    def parse_condition(self):
        token = self.peek()
        if token.kind != "IDENTIFIER":
            self.fail(token, "an attribute or intrinsic")
        field = self.parse_field(self.take())
        op_token = self.take()
        if op_token.kind != "OP" or op_token.text not in ("=", "!=", "=~", "!~", ">", ">=", "<", "<="):
            self.fail(op_token, "a comparison operator")
        op = op_token.text
        value_token = self.take()
        regex = None
        if value_token.kind == "STRING":
            value = go_unquote(value_token.text)
            if op in ("=~", "!~"):
                regex = _compile_regex(value, TraceQLError, "invalid TraceQL query: ", True)
        elif value_token.kind == "DURATION":
            value = parse_duration(value_token.text)
        elif value_token.kind == "NUMBER":
            value = float(value_token.text)
        elif value_token.kind == "IDENTIFIER" and value_token.text in ("true", "false"):
            value = value_token.text == "true"
        elif value_token.kind == "IDENTIFIER" and field == ("intrinsic", "status") and value_token.text in _STATUS:
            value = _Enum("status", _STATUS[value_token.text])
        elif value_token.kind == "IDENTIFIER" and field == ("intrinsic", "kind") and value_token.text in _KIND:
            value = _Enum("kind", _KIND[value_token.text])
        else:
            return self.fail(value_token, "a static value")
        if op in ("=~", "!~") and regex is None:
            self.fail(value_token, "a string")
        return Condition(field, op, value, regex)


def parse_traceql(text):
    if not text.strip():
        raise TraceQLError("invalid TraceQL query: parse error at line 1, col 1: syntax error: unexpected $end")
    return _TraceQLParser(text).parse()


def parse_logfmt(text):
    """'a=b c="d e"' -> [('a', 'b'), ('c', 'd e')]."""
    pairs = []
    for match in re.finditer(r'\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)', text):
        value = match.group(2)
        if value.startswith('"'):
            value = go_unquote(value)
        pairs.append((match.group(1), value))
    rest = re.sub(r'\s*([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)', "", text).strip()
    if rest:
        raise TraceQLError("invalid tags: %r is not in logfmt (key=value pairs separated by spaces)" % rest)
    return pairs


def tags_to_query(pairs):
    conditions = []
    for key, value in pairs:
        field = ("intrinsic", "name") if key == "name" else ("any", key)
        conditions.append(Condition(field, "=", value))
    if not conditions:
        return SpansetFilter(MatchAll())
    expr = conditions[0]
    for cond in conditions[1:]:
        expr = BoolExpr("&&", expr, cond)
    return SpansetFilter(expr)


def _any_value(value):
    """OTLP JSON AnyValue -> Python value."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return float(int(value["intValue"]))
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: _any_value(kv.get("value")) for kv in value["kvlistValue"].get("values", [])}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attributes(items):
    return {item["key"]: _any_value(item.get("value", {})) for item in items or [] if "key" in item}


def _norm_id(value, size):
    """OTLP JSON ids are hex; accept base64 (protobuf-JSON) too. -> lowercase hex or ''."""
    if not value:
        return ""
    text = str(value)
    if re.fullmatch(r"[0-9a-fA-F]+", text) and len(text) == size * 2:
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise ValueError("invalid id %r: expected %d hex bytes" % (text, size))


def _enum_value(value, names):
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        short = value.lower().rsplit("_", 1)[-1]
        return names.get(short, 0)
    return 0


class Span:
    __slots__ = (
        "attributes",
        "end_ns",
        "kind",
        "name",
        "parent_id",
        "raw",
        "resource",
        "scope",
        "span_id",
        "start_ns",
        "status",
    )

    def __init__(self, raw, resource, scope):
        self.raw, self.scope = raw, scope
        self.resource = _attributes(resource.get("attributes"))
        self.span_id = _norm_id(raw.get("spanId"), 8)
        self.parent_id = _norm_id(raw.get("parentSpanId"), 8)
        self.name = raw.get("name", "")
        self.kind = _enum_value(raw.get("kind", 0), _KIND)
        self.start_ns = int(raw.get("startTimeUnixNano", 0))
        self.end_ns = int(raw.get("endTimeUnixNano", self.start_ns))
        self.status = _enum_value((raw.get("status") or {}).get("code", 0), _STATUS)
        self.attributes = _attributes(raw.get("attributes"))


class Trace:
    def __init__(self, trace_id):
        self.trace_id = trace_id
        self.spans = []
        self.batches = []  # (resource dict, scope dict, raw span)

    @property
    def root(self):
        for span in self.spans:
            if not span.parent_id:
                return span
        return None

    @property
    def root_service(self):
        root = self.root
        if root is None:
            return "<root span not yet received>"
        return root.resource.get("service.name", "")

    @property
    def root_name(self):
        root = self.root
        return root.name if root is not None else ""

    @property
    def start_ns(self):
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self):
        return max(s.end_ns for s in self.spans)

    @property
    def duration_ns(self):
        return self.end_ns - self.start_ns

    def otlp(self):
        """The trace's ResourceSpans as Tempo's HTTP API writes them (gogo jsonpb: ids in base64, enum names)."""
        grouped = {}
        for resource, scope, raw in self.batches:
            key = json.dumps(resource, sort_keys=True)
            entry = grouped.setdefault(key, {"resource": resource, "scopes": {}})
            scope_key = json.dumps(scope, sort_keys=True)
            spans = entry["scopes"].setdefault(scope_key, {"scope": scope, "spans": []})["spans"]
            spans.append(_tempo_json_span(raw))
        return [
            {"resource": entry["resource"], "scopeSpans": list(entry["scopes"].values())} for entry in grouped.values()
        ]


_KIND_NAMES = {v: "SPAN_KIND_" + k.upper() for k, v in _KIND.items() if v}
_STATUS_NAMES = {1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def _b64_id(hex_id):
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii") if hex_id else ""


def _tempo_json_span(raw):
    """A stored span (hex ids, as ingested) as Tempo answers it: jsonpb of its protobuf, so bytes fields
    (traceId, spanId, parentSpanId, links' ids) in base64, kind and status code as enum names, zero values
    left out."""
    span = dict(raw)
    for field in ("traceId", "spanId", "parentSpanId"):
        if span.get(field):
            span[field] = _b64_id(span[field])
        else:
            span.pop(field, None)
    kind = _enum_value(span.get("kind", 0), _KIND)
    if kind:
        span["kind"] = _KIND_NAMES.get(kind, kind)
    else:
        span.pop("kind", None)
    status = dict(span.get("status") or {})
    code = _enum_value(status.get("code", 0), _STATUS)
    if code:
        status["code"] = _STATUS_NAMES.get(code, code)
    else:
        status.pop("code", None)
    span["status"] = status
    links = []
    for given in span.get("links") or []:
        link = dict(given)
        for field, size in (("traceId", 16), ("spanId", 8)):
            if link.get(field):
                link[field] = _b64_id(_norm_id(link[field], size))
        links.append(link)
    if links:
        span["links"] = links
    return span


class TempoStore:
    """In-memory traces, fed through ingest_otlp() (an OTLP/JSON ExportTraceServiceRequest)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._traces = {}

    def ingest_otlp(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("resourceSpans"), list):
            raise ValueError('the OTLP body needs a "resourceSpans" list')
        parsed = []  # every span is checked before any is stored: a bad request stores nothing
        for resource_spans in body["resourceSpans"]:
            resource = resource_spans.get("resource") or {}
            for scope_spans in (
                resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
            ):
                scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
                for given in scope_spans.get("spans") or []:
                    trace_id = _norm_id(given.get("traceId"), 16)
                    if not trace_id:
                        raise ValueError("span without traceId")
                    raw = dict(given, traceId=trace_id, spanId=_norm_id(given.get("spanId"), 8))
                    if raw.get("parentSpanId"):
                        raw["parentSpanId"] = _norm_id(raw["parentSpanId"], 8)
                    parsed.append((trace_id, raw, resource, scope, Span(raw, resource, scope)))
        count = 0
        with self._lock:
            for trace_id, raw, resource, scope, span in parsed:
                trace = self._traces.setdefault(trace_id, Trace(trace_id))
                if span.span_id and any(s.span_id == span.span_id for s in trace.spans):
                    continue  # a resent span (an exporter's retry): Tempo shows it once
                trace.spans.append(span)
                trace.batches.append((resource, scope, raw))
                count += 1
        return count

    def get(self, trace_id):
        with self._lock:
            return self._traces.get(trace_id)

    def all(self):
        with self._lock:
            return list(self._traces.values())

    def search(self, query, start_s=None, end_s=None, *, min_duration=None, max_duration=None, limit=20):
        found = []
        for trace in self.all():
            if start_s is not None and trace.end_ns < start_s * 1e9:
                continue
            if end_s is not None and trace.start_ns > end_s * 1e9:
                continue
            if min_duration is not None and trace.duration_ns < min_duration * 1e9:
                continue
            if max_duration is not None and trace.duration_ns > max_duration * 1e9:
                continue
            spans = query.matched_spans(trace)
            if spans:
                found.append((trace, spans))
        found.sort(key=lambda item: item[0].start_ns, reverse=True)
        results = []
        for trace, spans in found[:limit]:
            span_set = {
                "spans": [
                    {
                        "spanID": s.span_id,
                        "name": s.name,
                        "startTimeUnixNano": str(s.start_ns),
                        "durationNanos": str(s.end_ns - s.start_ns),
                    }
                    for s in spans[:3]
                ],
                "matched": len(spans),
            }
            results.append(
                {
                    "traceID": trace.trace_id,
                    "rootServiceName": trace.root_service,
                    "rootTraceName": trace.root_name,
                    "startTimeUnixNano": str(trace.start_ns),
                    "durationMs": int(trace.duration_ns // 1000000),
                    "spanSet": span_set,
                    "spanSets": [span_set],
                }
            )
        return results, len(found)

    def tag_names(self):
        resource, span = set(), set()
        for trace in self.all():
            for s in trace.spans:
                resource.update(s.resource)
                span.update(s.attributes)
        return sorted(resource), sorted(span)

    def tag_values(self, tag):
        scope, name = "any", tag
        for prefix, sc in (("resource.", "resource"), ("span.", "span"), (".", "any")):
            if tag.startswith(prefix):
                scope, name = sc, tag[len(prefix) :]
                break
        values = set()
        for trace in self.all():
            for s in trace.spans:
                for source in (
                    [s.resource]
                    if scope == "resource"
                    else [s.attributes]
                    if scope == "span"
                    else [s.attributes, s.resource]
                ):
                    if name in source and isinstance(source[name], (str, float, bool)):
                        values.add(source[name])
        return sorted(values, key=str)


# --------------------------------------------------------------------------- HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stand-in"
    sys_version = ""

    def log_message(self, format, *args):
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s %s\n" % (self.server.standin_name, format % args))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        return body

    def send(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, doc, headers=None):
        self.send(status, json.dumps(doc), "application/json", headers)

    def params(self, body=b""):
        parsed = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if body and "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            for key, values in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        return parsed.path, params

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def dispatch(self, method):
        try:
            self.handle_request(method)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a stand-in bug must show as a 500, not hang the client
            self.send(500, "stand-in internal error: %s: %s\n" % (type(exc).__name__, exc))

    def handle_request(self, method):
        raise NotImplementedError


_BAD_GZIP = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _first(params, name, default=None):
    values = params.get(name)
    return values[0] if values else default


# --------------------------------------------------------------------------- Loki HTTP
class LokiHandler(_Handler):
    server_version = "loki-stand-in"

    def handle_request(self, method):
        store = self.server.store
        try:
            body = self.read_body() if method in ("POST", "PUT") else b""
        except _BAD_GZIP as exc:
            return self.send(400, "cannot read the gzip body: %s\n" % exc)
        path, params = self.params(body)
        if path == "/ready":
            return self.send(200, "ready\n")
        if path in ("/loki/api/v1/push", "/otlp/v1/logs") and method == "POST":
            otlp = path == "/otlp/v1/logs"
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                what = (
                    "OTLP's JSON encoding only (set encoding: json on the collector's otlphttp exporter)"
                    if otlp
                    else "application/json only"
                )
                return self.send(415, "unsupported Content-Type %r: this Loki stand-in accepts %s\n" % (ctype, what))
            try:
                doc = json.loads(body.decode("utf-8"))
                if otlp:
                    store.ingest_otlp(doc)
                else:
                    store.push(doc)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
                return self.send(400, "%s\n" % exc)
            return self.send(204)
        if path in ("/loki/api/v1/push", "/otlp/v1/logs"):
            return self.send(405, "method not allowed\n")
        if method not in ("GET", "POST"):
            return self.send(405, "method not allowed\n")
        if path == "/loki/api/v1/labels":
            return self.send_json(200, {"status": "success", "data": store.label_names()})
        match = re.fullmatch(r"/loki/api/v1/label/([^/]+)/values", path)
        if match:
            name = urllib.parse.unquote(match.group(1))
            return self.send_json(200, {"status": "success", "data": store.label_values(name)})
        if path == "/loki/api/v1/series":
            return self.series(params)
        if path in ("/loki/api/v1/query_range", "/loki/api/v1/query"):
            try:
                return self.query(path.endswith("query_range"), params)
            except (LogQLError, ValueError) as exc:
                return self.send(400, "%s\n" % exc)
        return self.send(404, "404 page not found\n")

    def series(self, params):
        selectors = params.get("match[]") or params.get("match") or []
        if not selectors:
            return self.send(400, "at least one match[] argument required\n")
        seen = {}
        try:
            queries = [parse_logql(s) for s in selectors]
        except LogQLError as exc:
            return self.send(400, "%s\n" % exc)
        for labels, _entries in self.server.store.streams():
            if any(isinstance(q, LogQuery) and q.stream_matches(labels) for q in queries):
                seen[tuple(sorted(labels.items()))] = labels
        return self.send_json(200, {"status": "success", "data": list(seen.values())})

    def query(self, is_range, params):
        text = _first(params, "query")
        if not text:
            raise LogQLError("query parameter is missing")
        expr = parse_logql(text)
        store = self.server.store
        end_ns = parse_loki_time(_first(params, "end" if is_range else "time"), now_ns())
        start_ns = parse_loki_time(_first(params, "start"), end_ns - 3600 * 1000000000)
        limit = int(_first(params, "limit") or 100)
        direction = (_first(params, "direction") or "backward").lower()
        if direction not in ("backward", "forward"):
            raise ValueError("invalid direction %r" % direction)
        if is_range and end_ns < start_ns:
            raise ValueError("end timestamp must not be before or equal to start time")
        stats = {"summary": {"execTime": 0.0, "totalEntriesReturned": 0}}
        if isinstance(expr, LogQuery):
            if not is_range:
                raise LogQLError(
                    "log queries are not supported as an instant query type, please change your query to a range "
                    "query type"
                )
            flags = (self.headers.get("X-Loki-Response-Encoding-Flags") or "").replace(" ", "").split(",")
            categorize = "categorize-labels" in flags
            streams = store.query_logs(expr, start_ns, end_ns, limit, direction, categorize=categorize)
            stats["summary"]["totalEntriesReturned"] = sum(len(s["values"]) for s in streams)
            data = {"resultType": "streams", "result": streams, "stats": stats}
            if categorize:
                data["encodingFlags"] = ["categorize-labels"]
            return self.send_json(200, {"status": "success", "data": data})
        if not is_range:
            values = store.eval_metric(expr, end_ns)
            result = [{"metric": dict(k), "value": [end_ns / 1e9, _fmt(v)]} for k, v in values.items()]
            return self.send_json(
                200, {"status": "success", "data": {"resultType": "vector", "result": result, "stats": stats}}
            )
        step = _first(params, "step")
        if step:
            step_s = float(step) if re.fullmatch(r"\d+(\.\d+)?", step) else parse_duration(step)
        else:
            step_s = max(1.0, math.ceil((end_ns - start_ns) / 1e9 / 250))
        if step_s <= 0:
            raise ValueError("zero or negative query resolution step widths are not accepted")
        series = {}
        t = start_ns
        while t <= end_ns:
            for key, value in store.eval_metric(expr, t).items():
                series.setdefault(key, []).append([t / 1e9, _fmt(value)])
            t += int(step_s * 1e9)
        result = [{"metric": dict(k), "values": v} for k, v in series.items()]
        return self.send_json(
            200, {"status": "success", "data": {"resultType": "matrix", "result": result, "stats": stats}}
        )


def _fmt(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return ("%f" % value).rstrip("0").rstrip(".") if value != int(value) else str(int(value))


# --------------------------------------------------------------------------- Tempo HTTP
class TempoHandler(_Handler):
    server_version = "tempo-stand-in"

    def handle_request(self, method):
        store = self.server.store
        try:
            body = self.read_body() if method in ("POST", "PUT") else b""
        except _BAD_GZIP as exc:
            return self.send(400, "cannot read the gzip body: %s\n" % exc)
        path, params = self.params(body)
        if path == "/v1/traces" and method == "POST":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/json":
                return self.send(
                    415, "unsupported Content-Type %r: this Tempo stand-in accepts OTLP/JSON only\n" % ctype
                )
            try:
                store.ingest_otlp(json.loads(body.decode("utf-8")))
            except ValueError as exc:
                return self.send(400, "%s\n" % exc)
            return self.send_json(200, {})
        if self.server.otlp_only:
            return self.send(404, "404 page not found\n")
        if path == "/ready":
            return self.send(200, "ready\n")
        if path == "/api/echo":
            return self.send(200, "echo")
        if method not in ("GET", "HEAD"):
            return self.send(405, "method not allowed\n")
        match = re.fullmatch(r"/api(/v2)?/traces/([^/]+)", path)
        if match:
            if match.group(1) and not self.server.api_v2_traces:
                return self.send(404, "404 page not found\n")  # a Tempo older than the v2 API: unknown route
            if not re.fullmatch(r"[0-9a-fA-F]{1,32}", match.group(2)):
                return self.send(400, "invalid trace id %r\n" % match.group(2))
            trace = store.get(match.group(2).rjust(32, "0").lower())
            if trace is None:
                return self.send(404, b"")  # Tempo: no body when no block holds the trace
            if match.group(1):
                return self.send_json(200, {"trace": {"resourceSpans": trace.otlp()}})
            return self.send_json(200, {"batches": trace.otlp()})
        if path == "/api/search":
            return self.search(params)
        if path == "/api/search/tags":
            resource, span = store.tag_names()
            return self.send_json(200, {"tagNames": sorted(set(resource) | set(span))})
        if path == "/api/v2/search/tags":
            resource, span = store.tag_names()
            scopes = [
                {"name": "resource", "tags": resource},
                {"name": "span", "tags": span},
                {"name": "intrinsic", "tags": ["duration", "kind", "name", "rootName", "rootServiceName", "status"]},
            ]
            return self.send_json(200, {"scopes": scopes})
        match = re.fullmatch(r"/api(/v2)?/search/tag/([^/]+)/values", path)
        if match:
            values = store.tag_values(urllib.parse.unquote(match.group(2)))
            if match.group(1):
                typed = [{"type": "string" if isinstance(v, str) else "int", "value": str(v)} for v in values]
                return self.send_json(200, {"tagValues": typed})
            return self.send_json(200, {"tagValues": [str(v) for v in values]})
        return self.send(404, "404 page not found\n")

    def search(self, params):
        try:
            q, tags = _first(params, "q"), _first(params, "tags")
            query = parse_traceql(q) if q else tags_to_query(parse_logfmt(tags or ""))
            limit = int(_first(params, "limit") or 20)
            start_s = parse_seconds_param(_first(params, "start"), "start")
            end_s = parse_seconds_param(_first(params, "end"), "end")
            min_d = _first(params, "minDuration")
            max_d = _first(params, "maxDuration")
            min_duration = parse_duration(min_d) if min_d else None
            max_duration = parse_duration(max_d) if max_d else None
        except ValueError as exc:  # TraceQLError included
            return self.send(400, "%s\n" % exc)
        traces, _matched = self.server.store.search(
            query, start_s, end_s, min_duration=min_duration, max_duration=max_duration, limit=limit
        )
        metrics = {
            "inspectedTraces": len(self.server.store.all()),
            "inspectedBytes": "0",
            "completedJobs": 1,
            "totalJobs": 1,
        }
        return self.send_json(200, {"traces": traces, "metrics": metrics})


# --------------------------------------------------------------------------- Grafana HTTP
_PROM_POST_ALLOWED = ("api/v1/query", "api/v1/query_range", "api/v1/series", "api/v1/labels", "api/v1/query_exemplars")
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "authorization",
    "cookie",
    "x-grafana-org-id",
}
_SECRET_KEYS = ("basicAuthPassword", "password", "secureJsonData")


def _grafana_error(message, status, message_id=None):
    doc = {"message": message, "statusCode": status, "traceID": ""}
    if message_id:
        doc["messageId"] = message_id
    return doc


class GrafanaHandler(_Handler):
    server_version = "grafana-stand-in"

    def handle_request(self, method):
        body = self.read_body() if method in ("POST", "PUT", "PATCH") else b""
        path, _params = self.params()
        self.server.requests.append((method, self.path))
        if path == "/api/health":
            return self.send_json(200, {"commit": "stand-in", "database": "ok", "version": STANDIN_VERSION})
        if not path.startswith("/api/"):
            return self.send_json(404, _grafana_error("Not found", 404))
        identity = self.authenticate()
        if identity is None:
            return None
        org_id = identity["org_id"]
        match = re.fullmatch(r"/api/datasources/proxy/(uid/([^/]+)|(\d+))(/.*)?", path)
        if match:
            uid, ds_id, rest = match.group(2), match.group(3), match.group(4) or "/"
            ds = self.server.find_datasource(org_id, uid=urllib.parse.unquote(uid) if uid else None, ds_id=ds_id)
            if ds is None:
                return self.send_json(404, _grafana_error("Unable to load datasource meta data", 404))
            return self.proxy(method, ds, rest, body)
        if method != "GET":
            return self.send_json(404, _grafana_error("Not found", 404))
        match = re.fullmatch(r"/api/datasources/(uid/([^/]+)|(\d+))/health", path)
        if match:  # Grafana asks for datasources:query here, which every role has
            uid, ds_id = match.group(2), match.group(3)
            ds = self.server.find_datasource(org_id, uid=urllib.parse.unquote(uid) if uid else None, ds_id=ds_id)
            if ds is None:
                return self.send_json(500, _grafana_error("Unable to load datasource metadata", 500))
            status, doc = check_datasource_health(ds, self.server.proxy_timeout)
            return self.send_json(status, doc)
        if path == "/api/datasources" or path.startswith("/api/datasources/"):
            if identity["role"] not in ("Admin", "Editor"):
                return self.send_json(
                    403,
                    {
                        "accessErrorId": "ACE0000000001",
                        "message": "You'll need additional permissions to perform this action. "
                        "Permissions needed: datasources:read",
                        "title": "Access denied",
                    },
                )
            if path == "/api/datasources":
                return self.send_json(200, [self.server.public(ds) for ds in self.server.datasources_of(org_id)])
            match = re.fullmatch(r"/api/datasources/(uid/|name/)?([^/]+)", path)
            if match:
                key = urllib.parse.unquote(match.group(2))
                kind = (match.group(1) or "id/").rstrip("/")
                if kind == "id" and not key.isdigit():
                    return self.send_json(404, _grafana_error("Not found", 404))
                ds = self.server.find_datasource(
                    org_id,
                    uid=key if kind == "uid" else None,
                    name=key if kind == "name" else None,
                    ds_id=key if kind == "id" else None,
                )
                if ds is None:
                    return self.send_json(404, _grafana_error("Data source not found", 404, "datasource.notFound"))
                return self.send_json(200, self.server.public(ds))
        return self.send_json(404, _grafana_error("Not found", 404))

    def authenticate(self):
        header = self.headers.get("Authorization") or ""
        identity = None
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            for cred in self.server.tokens:
                if cred["token"] == token:
                    identity = {"role": cred.get("role", "Viewer"), "orgs": [int(cred.get("org_id", 1))]}
                    break
            else:
                self.send_json(401, _grafana_error("Invalid API key", 401, "api-keys.invalid"))
                return None
        elif header.lower().startswith("basic "):
            try:
                login, _sep, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except ValueError:
                login, password = "", None
            for user in self.server.users:
                if user["login"] == login and user.get("password") == password:
                    identity = {"role": user.get("role", "Viewer"), "orgs": [int(o) for o in user.get("orgs", [1])]}
                    break
            else:
                self.send_json(401, _grafana_error("Invalid username or password", 401, "password-auth.failed"))
                return None
        else:
            self.send_json(401, _grafana_error("Unauthorized", 401, "auth.unauthorized"))
            return None
        requested = self.headers.get("X-Grafana-Org-Id")
        if requested:
            try:
                org_id = int(requested)
            except ValueError:
                org_id = -1
            if org_id not in identity["orgs"]:
                self.send_json(401, _grafana_error("User is not a member of organization %s" % requested, 401))
                return None
        else:
            org_id = identity["orgs"][0]
        identity["org_id"] = org_id
        return identity

    def proxy(self, method, ds, rest, body):
        proxy_path = rest.lstrip("/")
        if ds["type"] == "prometheus":
            if method == "DELETE":
                return self.send_json(
                    403, {"message": "non allow-listed DELETEs not allowed on proxied Prometheus datasource"}
                )
            if method == "PUT":
                return self.send_json(
                    403, {"message": "non allow-listed PUTs not allowed on proxied Prometheus datasource"}
                )
            if method == "POST" and proxy_path not in _PROM_POST_ALLOWED:
                return self.send_json(
                    403, {"message": "non allow-listed POSTs not allowed on proxied Prometheus datasource"}
                )
        query = urllib.parse.urlsplit(self.path).query
        target = ds["url"].rstrip("/") + "/" + proxy_path + ("?" + query if query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        if ds.get("basicAuth"):
            pair = "%s:%s" % (ds.get("basicAuthUser", ""), ds.get("basicAuthPassword", ""))
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        request = urllib.request.Request(
            target, data=body if method in ("POST", "PUT", "PATCH") else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.server.proxy_timeout) as response:
                status, payload, resp_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, payload, resp_headers = exc.code, exc.read(), exc.headers
        except (TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            timed_out = isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError) or "timed out" in str(reason)
            return self.send(504 if timed_out else 502, b"")
        ctype = resp_headers.get("Content-Type", "application/octet-stream")
        return self.send(status, payload, ctype)


# --------------------------------------------------------------------------- Grafana's datasource health check
# a plugin without a health check (Grafana's errutil.NotImplemented("plugin.notImplemented"))
_NOT_IMPLEMENTED = {
    "message": "Not implemented",
    "messageId": "plugin.notImplemented",
    "statusCode": 501,
    "traceID": "",
}


def _go_error(method, url, exc):
    """A transport failure worded as Go's *url.Error: Post "http://h:p/path": dial tcp h:p: connect: ..."""
    reason = getattr(exc, "reason", exc)
    parts = urllib.parse.urlsplit(url)
    hostport = parts.netloc.rpartition("@")[2]
    if ":" not in hostport:
        hostport += ":%d" % (443 if parts.scheme == "https" else 80)
    if isinstance(reason, ConnectionRefusedError):
        detail = "dial tcp %s: connect: connection refused" % hostport
    elif isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason):
        detail = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    elif isinstance(reason, socket.gaierror):
        detail = "dial tcp: lookup %s: no such host" % parts.hostname
    else:
        detail = str(reason)
    return '%s "%s": %s' % (method.capitalize(), url, detail)


def _ds_request(ds, method, path, params, timeout):
    """(url, status, body bytes) of a request Grafana's backend makes to the datasource; OSError when it fails."""
    url = ds["url"].rstrip("/") + "/" + path
    data = None
    headers = {"User-Agent": "Grafana/stand-in"}
    if method == "POST":
        data = urllib.parse.urlencode(params).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif params:
        url += "?" + urllib.parse.urlencode(params)
    if ds.get("basicAuth"):
        pair = "%s:%s" % (ds.get("basicAuthUser", ""), ds.get("basicAuthPassword", ""))
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return url, response.status, response.read()
    except urllib.error.HTTPError as exc:
        return url, exc.code, exc.read()


def _error_text(status, body):
    """What a backend shows of a datasource's non-2xx answer: its JSON error/message, else the text or the status."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and (doc.get("error") or doc.get("message")):
        return str(doc.get("error") or doc.get("message"))
    return text or "%d %s" % (status, http.client.responses.get(status, ""))


def _prometheus_health(ds, timeout):
    """Grafana's Prometheus datasource (pkg/promlib/healthcheck.go): the instant query 1+1 at t=4 s."""
    suffix = "There was an error returned querying the Prometheus API."
    method = "GET" if (ds.get("jsonData") or {}).get("httpMethod", "POST").upper() == "GET" else "POST"
    url = ds["url"].rstrip("/") + "/api/v1/query"
    try:
        url, status, body = _ds_request(ds, method, "api/v1/query", {"query": "1+1", "time": "4"}, timeout)
    except (OSError, ValueError) as exc:
        return False, "%s - %s" % (_go_error(method, url, exc), suffix)
    if status // 100 != 2:
        return False, "%s - %s" % (_error_text(status, body), suffix)
    try:
        ok = json.loads(body).get("status") == "success"
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        return False, "invalid response - %s" % suffix
    return True, "Successfully queried the Prometheus API."


def _loki_health(ds, timeout):
    """Grafana's Loki datasource (pkg/tsdb/loki/healthcheck.go): the instant query vector(1)+vector(1) must be 2."""
    prefix = "There was an error returned querying the Loki API."
    params = {"direction": "backward", "query": "vector(1)+vector(1)", "time": "4000000000"}
    url = ds["url"].rstrip("/") + "/loki/api/v1/query?" + urllib.parse.urlencode(params)
    try:
        url, status, body = _ds_request(ds, "GET", "loki/api/v1/query", params, timeout)
    except (OSError, ValueError) as exc:
        return False, "%s: %s" % (prefix, _go_error("GET", url, exc))
    if status // 100 != 2:
        return False, "%s: %s" % (prefix, _error_text(status, body))
    try:
        result = json.loads(body)["data"]["result"]
        value = float(result[0]["value"][1]) if len(result) == 1 else None
    except (ValueError, KeyError, IndexError, TypeError):
        return False, "%s: invalid response" % prefix
    if value is None:
        return False, "%s: no frames" % prefix
    if value != 2:
        return False, "%s: invalid response" % prefix
    return True, "Successfully queried the Loki API."


def _tempo_health(ds, timeout):
    """Grafana's Tempo datasource's test: GET api/echo (this stand-in's words around the outcome)."""
    url = ds["url"].rstrip("/") + "/api/echo"
    try:
        url, status, body = _ds_request(ds, "GET", "api/echo", None, timeout)
    except (OSError, ValueError) as exc:
        return False, "Unable to connect with Tempo: %s" % _go_error("GET", url, exc)
    if status // 100 != 2:
        return False, "Unable to connect with Tempo: %s" % _error_text(status, body)
    return True, "Health check succeeded"


_HEALTH_CHECKS = {"prometheus": _prometheus_health, "loki": _loki_health, "tempo": _tempo_health}


def check_datasource_health(ds, timeout):
    """(HTTP status, body) of GET /api/datasources/uid/<uid>/health for ds, as Grafana answers it."""
    check = _HEALTH_CHECKS.get(ds["type"])
    if check is None or ds.get("healthCheck") is False:
        return 501, dict(_NOT_IMPLEMENTED)
    ok, message = check(ds, timeout)
    return (200, {"status": "OK", "message": message}) if ok else (400, {"status": "ERROR", "message": message})


class _GrafanaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def configure(self, config, urls):
        self.requests = collections.deque(maxlen=1000)  # (method, path) of every request, newest last
        self.tokens = list(config.get("tokens") or [])
        self.users = list(config.get("users") or [])
        self.proxy_timeout = float(config.get("proxy_timeout", 30))
        self.datasources = []
        for index, raw in enumerate(config.get("datasources") or []):
            ds = dict(raw)
            for key in ("name", "type", "url"):
                if not ds.get(key):
                    raise ValueError("datasource #%d needs %r" % (index + 1, key))
            ds["url"] = ds["url"].format(**urls)
            ds.setdefault("id", index + 1)
            ds.setdefault("uid", "ds%d" % ds["id"])
            ds.setdefault("orgId", 1)
            ds.setdefault("access", "proxy")
            ds.setdefault("isDefault", False)
            ds.setdefault("jsonData", {})
            ds.setdefault("basicAuth", False)
            self.datasources.append(ds)

    def datasources_of(self, org_id):
        return [ds for ds in self.datasources if int(ds["orgId"]) == org_id]

    def find_datasource(self, org_id, uid=None, name=None, ds_id=None):
        for ds in self.datasources_of(org_id):
            if (uid is not None and ds["uid"] == uid) or (name is not None and ds["name"] == name):
                return ds
            if ds_id is not None and str(ds["id"]) == str(ds_id):
                return ds
        return None

    @staticmethod
    def public(ds):
        doc = {k: v for k, v in ds.items() if k not in _SECRET_KEYS}
        doc.setdefault("typeName", ds["type"].capitalize())
        doc.setdefault("readOnly", False)
        doc["secureJsonFields"] = {"basicAuthPassword": True} if ds.get("basicAuthPassword") else {}
        return doc


class _StoreServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    otlp_only = False
    api_v2_traces = True


# --------------------------------------------------------------------------- stack
def _split_listen(text):
    host, _sep, port = str(text).rpartition(":")
    if not host:
        raise ValueError("listen must be HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def _url(server):
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return "%s://%s:%d" % ("https" if getattr(server, "tls", False) else "http", host, port)


def _wrap_tls(server, tls):
    """Serve HTTPS with tls = {"cert": PEM path, "key": PEM path} (Grafana's cert_file/cert_key)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls["cert"], tls.get("key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.tls = True


def _load_bodies(section):
    bodies = list(section.get("load") or [])
    for path in section.get("load_files") or []:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
        bodies.extend(doc if isinstance(doc, list) else [doc])
    return bodies


def _load_into(name, store, section):
    """Ingest the section's load bodies: Loki push bodies or OTLP/JSON logs (resourceLogs); OTLP/JSON traces."""
    for body in _load_bodies(section):
        if name == "tempo" or (isinstance(body, dict) and "resourceLogs" in body):
            store.ingest_otlp(body)
        else:
            store.push(body)


def _loki_index_labels(section):
    labels = (section or {}).get("default_resource_attributes_as_index_labels")
    if labels is None:
        return LOKI_OTLP_INDEX_LABELS
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ValueError("loki default_resource_attributes_as_index_labels must be a list of attribute names")
    return labels


class Stack:
    """The running stand-ins of one config."""

    def __init__(self, loki_index_labels=LOKI_OTLP_INDEX_LABELS):
        self.servers = []
        self.threads = []
        self.grafana_url = self.loki_url = self.tempo_url = self.tempo_otlp_url = None
        self.loki = LokiStore(loki_index_labels)
        self.tempo = TempoStore()
        self.grafana = None

    def _serve(self, server):
        thread = threading.Thread(target=server.serve_forever, name=server.standin_name, daemon=True)
        thread.start()
        self.servers.append(server)
        self.threads.append(thread)

    def stop(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.servers, self.threads = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def start_stack(config, verbose=False):
    """Start every stand-in the config has a section for; return the running Stack."""
    stack = Stack(_loki_index_labels(config.get("loki")))
    try:
        for name, handler, store in (("loki", LokiHandler, stack.loki), ("tempo", TempoHandler, stack.tempo)):
            section = config.get(name)
            if section is None:
                continue
            _load_into(name, store, section)
            server = _StoreServer(_split_listen(section.get("listen", "127.0.0.1:0")), handler)
            server.store, server.standin_name, server.verbose = store, "%s-stand-in" % name, verbose
            server.api_v2_traces = bool(section.get("api_v2_traces", True))
            stack._serve(server)
            setattr(stack, "%s_url" % name, _url(server))
            if name == "tempo" and section.get("otlp_listen"):
                otlp = _StoreServer(_split_listen(section["otlp_listen"]), handler)
                otlp.store, otlp.standin_name, otlp.verbose, otlp.otlp_only = (
                    store,
                    "tempo-otlp-stand-in",
                    verbose,
                    True,
                )
                stack._serve(otlp)
                stack.tempo_otlp_url = _url(otlp)
        section = config.get("grafana")
        if section is not None:
            server = _GrafanaServer(_split_listen(section.get("listen", "127.0.0.1:0")), GrafanaHandler)
            server.standin_name, server.verbose = "grafana-stand-in", verbose
            server.configure(section, {"loki_url": stack.loki_url or "", "tempo_url": stack.tempo_url or ""})
            if section.get("tls"):
                _wrap_tls(server, section["tls"])
            stack.grafana = server
            stack._serve(server)
            stack.grafana_url = _url(server)
    except BaseException:
        stack.stop()
        raise
    return stack


def check_config(config):
    """Validate a config without listening (the CLI's --check). Raises ValueError."""
    for name in ("grafana", "loki", "tempo"):
        section = config.get(name)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ValueError("%r must be an object" % name)
        _split_listen(section.get("listen", "127.0.0.1:0"))
        if name == "tempo" and section.get("otlp_listen"):
            _split_listen(section["otlp_listen"])
        store = LokiStore(_loki_index_labels(section)) if name == "loki" else TempoStore() if name == "tempo" else None
        if store is not None:
            _load_into(name, store, section)
    section = config.get("grafana")
    if section is not None:
        for cred in section.get("tokens") or []:
            if not isinstance(cred, dict) or not cred.get("token"):
                raise ValueError('each grafana token needs {"token": ..., "role": ...}')
            if cred.get("role", "Viewer") not in ("Admin", "Editor", "Viewer"):
                raise ValueError("role must be Admin, Editor or Viewer, got %r" % cred.get("role"))
        for user in section.get("users") or []:
            if not isinstance(user, dict) or not user.get("login") or "password" not in user:
                raise ValueError('each grafana user needs {"login": ..., "password": ...}')
        probe = _GrafanaServer.__new__(_GrafanaServer)
        probe.configure(section, {"loki_url": "http://loki", "tempo_url": "http://tempo"})
        uids = [ds["uid"] for ds in probe.datasources]
        if len(set(uids)) != len(uids):
            raise ValueError("datasource uids must be unique: %s" % ", ".join(uids))
        for key in ("cert", "key"):
            path = (section.get("tls") or {}).get(key)
            if path:
                with open(path, encoding="ascii"):
                    pass


def _set_process_title(title):
    try:
        with open("/proc/self/comm", "w", encoding="ascii") as handle:
            handle.write(title[:15])
    except OSError:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grafana/Loki/Tempo stand-in (test support, not product)")
    parser.add_argument("--config", required=True, help="JSON config (see the module docstring)")
    parser.add_argument("--check", action="store_true", help="validate the config and exit")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        if not isinstance(config, dict) or not any(k in config for k in ("grafana", "loki", "tempo")):
            raise ValueError('the config needs at least one of "grafana", "loki", "tempo"')
        if args.check:
            check_config(config)
            print("config OK")
            return 0
        stack = start_stack(config, verbose=args.verbose)
    except (OSError, ValueError) as exc:
        print("grafana stand-in: bad config or cannot listen: %s" % exc, file=sys.stderr)
        return 2
    _set_process_title("grafana-standin")
    stopping = threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    urls = " ".join(
        "%s=%s" % (n, u)
        for n, u in (
            ("grafana", stack.grafana_url),
            ("loki", stack.loki_url),
            ("tempo", stack.tempo_url),
            ("tempo_otlp", stack.tempo_otlp_url),
        )
        if u
    )
    print("grafana stand-in ready: %s" % urls, flush=True)
    while not stopping.wait(3600):
        pass
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
