# -*- coding: utf-8 -*-
# Copyright: DevSecOps Dojo
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana client shared by the grafana_* modules.

One HTTP layer (ansible.module_utils.urls.open_url), one error type (GrafanaError) whose
message is a single sentence meant for the person reading the playbook output, and the
normalisation of the native answers of Prometheus/Thanos, Loki and Tempo.

Queries go through Grafana's datasource proxy (/api/datasources/proxy/uid/<uid>/<native
path>): see the grafana_query module documentation for why.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import math
import re
import socket
import ssl
import time
from datetime import datetime, timedelta, timezone
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import quote, urlencode, urlsplit

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import open_url

try:  # not every ansible-core exports it; open_url raises it for some TLS failures
    from ansible.module_utils.urls import SSLValidationError
except ImportError:  # pragma: no cover
    SSLValidationError = None

REDACTED = "********"

# datasource type -> what it answers
PROMETHEUS_TYPES = ("prometheus",)
LANGUAGE_TYPES = {
    "promql": PROMETHEUS_TYPES,
    "logql": ("loki",),
    "traceql": ("tempo",),
}
LANGUAGE_NEEDS = {
    "promql": "a Prometheus-type datasource (Prometheus or Thanos, type 'prometheus')",
    "logql": "a Loki datasource (type 'loki')",
    "traceql": "a Tempo datasource (type 'tempo')",
}
TYPE_LANGUAGE = {"prometheus": "promql", "loki": "logql", "tempo": "traceql"}

# The metric names of the OpenTelemetry JMX Kafka target, as Prometheus/Thanos shows them.
KAFKA_METRICS = {
    "messages": ("kafka_message_count_total", {}),
    "produce_requests": ("kafka_request_count_total", {"type": "produce"}),
    "fetch_requests": ("kafka_request_count_total", {"type": "fetch"}),
    "failed_produce_requests": ("kafka_request_failed_total", {"type": "produce"}),
    "failed_fetch_requests": ("kafka_request_failed_total", {"type": "fetch"}),
    "network_io_bytes": ("kafka_network_io_bytes_total", {}),
    "partitions": ("kafka_partition_count", {}),
    "offline_partitions": ("kafka_partition_offline", {}),
    "under_replicated_partitions": ("kafka_partition_under_replicated", {}),
    "request_queue": ("kafka_request_queue", {}),
    "purgatory_size": ("kafka_purgatory_size", {}),
}

ERROR_KINDS = (
    "connection",
    "dns",
    "tls",
    "timeout",
    "credentials",
    "permission",
    "not_found",
    "bad_query",
    "bad_gateway",
    "server",
    "type_mismatch",
    "invalid_response",
    "invalid_argument",
)
TRANSIENT_KINDS = ("connection", "timeout", "bad_gateway", "server")


def grafana_argument_spec():
    """The connection options (documented in the dojo.kafka_observability.grafana doc fragment)."""
    return dict(
        grafana_url=dict(type="str", required=True, aliases=["url"], fallback=(env_fallback, ["GRAFANA_URL"])),
        grafana_token=dict(type="str", no_log=True, aliases=["token"], fallback=(env_fallback, ["GRAFANA_TOKEN"])),
        grafana_user=dict(type="str", fallback=(env_fallback, ["GRAFANA_USER"])),
        grafana_password=dict(type="str", no_log=True, fallback=(env_fallback, ["GRAFANA_PASSWORD"])),
        org_id=dict(type="int"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        request_timeout=dict(type="float", default=30.0),
    )


def datasource_argument_spec():
    return dict(
        datasource=dict(type="str", aliases=["datasource_name"]),
        datasource_uid=dict(type="str"),
    )


def query_argument_spec():
    """The query options grafana_query and grafana_assert share (documented in each module)."""
    return dict(
        query=dict(type="str"),
        kafka_metric=dict(type="str", choices=list(KAFKA_METRICS)),
        kafka_labels=dict(type="dict"),
        tags=dict(type="dict"),
        trace_id=dict(type="str"),
    )


GRAFANA_MUTUALLY_EXCLUSIVE = [("grafana_token", "grafana_user"), ("grafana_token", "grafana_password")]
GRAFANA_REQUIRED_TOGETHER = [("grafana_user", "grafana_password")]
DATASOURCE_MUTUALLY_EXCLUSIVE = [("datasource", "datasource_uid")]
DATASOURCE_REQUIRED_ONE_OF = [("datasource", "datasource_uid")]


class GrafanaError(Exception):
    """A failure explained in one sentence (msg); kind is one of ERROR_KINDS."""

    def __init__(self, msg, kind, status=None):
        super(GrafanaError, self).__init__(msg)
        self.msg = msg
        self.kind = kind
        self.status = status
        self.detail = ""  # for an HTTP error: the text of the answer's body (Grafana's or the datasource's)
        self.body = ""  # for an HTTP error: the answer's body itself (secrets masked)

    @property
    def transient(self):
        return self.kind in TRANSIENT_KINDS

    def as_result(self):
        result = {"error_kind": self.kind}
        if self.status is not None:
            result["http_status"] = self.status
        return result


# ------------------------------------------------------------------ time and durations
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value, name="duration"):
    """'90', 90, '1m30s', '5m', '250ms' -> seconds (float)."""
    if isinstance(value, bool):
        raise GrafanaError("%s: %r is not a duration such as 30s, 5m or 1h." % (name, value), "invalid_argument")
    if isinstance(value, (int, float)):
        return float(value)
    text = to_text(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise GrafanaError("%s: %r is not a duration such as 30s, 5m or 1h." % (name, value), "invalid_argument")
    return total


def parse_time(value, now, name="time"):
    """A point in time -> epoch seconds (float).

    Accepts epoch seconds (number or numeric string; 13+ digit values are taken as
    milliseconds, 19 digits as nanoseconds), 'now', 'now-5m' / 'now+1h', '-5m' (relative to
    now), and ISO 8601 / RFC 3339 ('2024-05-01T10:00:00Z').
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _scale_epoch(float(value))
    text = to_text(value).strip()
    match = re.match(r"^now\s*(?:([+-])\s*(.+))?$", text)
    if match:
        if not match.group(1):
            return now
        delta = parse_duration(match.group(2), name)
        return now - delta if match.group(1) == "-" else now + delta
    if text.startswith("-") and not re.match(r"^-\d+(\.\d+)?$", text):
        return now - parse_duration(text[1:], name)
    try:
        return _scale_epoch(float(text))
    except ValueError:
        pass
    iso = text.replace("Z", "+00:00").replace("z", "+00:00")
    # Python < 3.11 fromisoformat() accepts at most 6 fractional digits
    iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise GrafanaError(
            "%s: %r is not a time (epoch seconds, 'now', 'now-5m' or RFC 3339 such as 2024-05-01T10:00:00Z)."
            % (name, value),
            "invalid_argument",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _scale_epoch(number):
    if abs(number) >= 1e17:
        return number / 1e9
    if abs(number) >= 1e11:
        return number / 1e3
    return number


def iso_from_ns(ns):
    ns = int(ns)
    seconds, rest = divmod(ns, 1000000000)
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % rest


def iso_from_seconds(seconds):
    return iso_from_ns(round(float(seconds) * 1e9))


# ------------------------------------------------------------------ PromQL helpers
def _promql_string(value):
    return '"%s"' % to_text(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def kafka_metric_query(metric, labels=None):
    """PromQL for one of KAFKA_METRICS, summed over its series: sum(name{matchers})."""
    if metric not in KAFKA_METRICS:
        raise GrafanaError(
            "kafka_metric: %r is not one of %s." % (metric, ", ".join(sorted(KAFKA_METRICS))), "invalid_argument"
        )
    name, fixed = KAFKA_METRICS[metric]
    matchers = dict(fixed)
    matchers.update(labels or {})
    selector = ",".join("%s=%s" % (k, _promql_string(v)) for k, v in sorted(matchers.items()))
    return "sum(%s{%s})" % (name, selector) if selector else "sum(%s)" % name


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def json_number(value):
    """NaN / +-Inf are not JSON: return them as the strings Prometheus uses."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def normalize_prometheus(data):
    """Prometheus/Thanos `data` of /api/v1/query(_range) -> normalized dict.

    series: [{labels, value, timestamp, values: [[ts, value], ...]}]; value: the sum of the
    last value of every series (None when there is no series).
    """
    result_type = data.get("resultType")
    raw = data.get("result")
    series = []
    if result_type in ("scalar", "string"):
        ts, text = raw[0], raw[1]
        number = _float(text)
        series.append(
            {
                "labels": {},
                "value": json_number(number),
                "timestamp": float(ts),
                "values": [[float(ts), json_number(number)]],
            }
        )
    elif result_type == "vector":
        for item in raw or []:
            ts, text = item["value"]
            number = _float(text)
            series.append(
                {
                    "labels": item.get("metric", {}),
                    "value": json_number(number),
                    "timestamp": float(ts),
                    "values": [[float(ts), json_number(number)]],
                }
            )
    elif result_type == "matrix":
        for item in raw or []:
            points = [[float(ts), json_number(_float(text))] for ts, text in item.get("values", [])]
            last = points[-1] if points else [None, None]
            series.append({"labels": item.get("metric", {}), "value": last[1], "timestamp": last[0], "values": points})
    else:
        raise GrafanaError("The datasource answered an unknown resultType %r." % result_type, "invalid_response")
    numbers = [s["value"] for s in series if isinstance(s["value"], (int, float))]
    total = json_number(sum(numbers)) if numbers else None
    return {"result_type": result_type, "series": series, "value": total, "count": len(series)}


def normalize_loki(data, direction="backward"):
    """Loki `data` of /loki/api/v1/query(_range) -> lines or series."""
    result_type = data.get("resultType")
    if result_type == "streams":
        lines = []
        for stream in data.get("result") or []:
            labels = stream.get("stream", {})
            for value in stream.get("values", []):
                ns = int(value[0])
                line = {"labels": labels, "timestamp": iso_from_ns(ns), "timestamp_ns": ns, "line": value[1]}
                if len(value) > 2 and value[2]:
                    line["metadata"] = value[2]
                lines.append(line)
        lines.sort(key=lambda e: e["timestamp_ns"], reverse=(direction == "backward"))
        return {"result_type": "streams", "lines": lines, "count": len(lines)}
    normalized = normalize_prometheus(data)
    return normalized


def normalize_trace_id(value):
    """A W3C / OTLP trace id: 32 hex digits, not all zero -> lower case."""
    text = to_text(value or "").strip().lower()
    if not re.match(r"^[0-9a-f]{32}$", text) or not text.strip("0"):
        raise GrafanaError(
            "trace_id %r is not a trace id: it needs 32 hexadecimal digits, not all zero (the second field of a "
            "W3C traceparent header)." % to_text(value),
            "invalid_argument",
        )
    return text


_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS_CODES = ("unset", "ok", "error")


def _otlp_enum(value, names, prefix):
    """An OTLP enum in JSON: a number (OTLP/JSON) or a name such as SPAN_KIND_PRODUCER (Tempo's jsonpb)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    text = to_text(value if value is not None else 0)
    if text.isdigit() and int(text) < len(names):
        return names[int(text)]
    short = text.upper()
    if short.startswith(prefix):
        short = short[len(prefix) :]
    return short.lower() if short.lower() in names else text


def _span_id_hex(value, size):
    """An id as Tempo's jsonpb writes it (base64) or as OTLP/JSON does (hex) -> lower-case hex, None if empty."""
    if not value:
        return None
    text = to_text(value)
    if re.match(r"^[0-9a-fA-F]{%d}$" % (size * 2), text):
        return text.lower()
    try:
        raw = base64.b64decode(text)
    except (TypeError, ValueError):
        raw = b""
    if len(raw) == size:
        return "".join("%02x" % c for c in bytearray(raw))
    return text


def _resource_spans(doc):
    """The ResourceSpans of a trace-by-id answer: v2 {"trace": {...}}, v1 {"batches": [...]}, or OTLP's name."""
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("trace"), dict):
        doc = doc["trace"]
    return doc.get("resourceSpans") or doc.get("batches") or []


def normalize_tempo_trace(doc):
    """A Tempo trace-by-id answer (None when Tempo does not have the trace) -> its spans, oldest first.

    Each span: span_id, parent_span_id (None for a root span), parent (the parent span's name when
    the parent is in the trace), service (its resource's service.name), name, kind and status
    (TraceQL's words: producer, consumer...; unset, ok, error), start, start_unix_nano, duration_ms.
    """
    spans = []
    for batch in _resource_spans(doc):
        service = None
        for attr in (batch.get("resource") or {}).get("attributes") or []:
            if attr.get("key") == "service.name":
                service = (attr.get("value") or {}).get("stringValue")
        for scope in batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans") or []:
            for span in scope.get("spans") or []:
                start = int(span.get("startTimeUnixNano") or 0)
                end = int(span.get("endTimeUnixNano") or start)
                spans.append(
                    {
                        "span_id": _span_id_hex(span.get("spanId"), 8),
                        "parent_span_id": _span_id_hex(span.get("parentSpanId"), 8),
                        "service": service,
                        "name": span.get("name", ""),
                        "kind": _otlp_enum(span.get("kind"), _SPAN_KINDS, "SPAN_KIND_"),
                        "status": _otlp_enum((span.get("status") or {}).get("code"), _STATUS_CODES, "STATUS_CODE_"),
                        "start": iso_from_ns(start) if start else None,
                        "start_unix_nano": start,
                        "duration_ms": round((end - start) / 1e6, 3),
                    }
                )
    names = dict((s["span_id"], s["name"]) for s in spans if s["span_id"])
    for span in spans:
        span["parent"] = names.get(span["parent_span_id"]) if span["parent_span_id"] else None
    spans.sort(key=lambda s: (s["start_unix_nano"], s["name"]))
    return {"result_type": "trace", "spans": spans, "count": len(spans), "found": bool(spans)}


def normalize_tempo(doc):
    """Tempo /api/search answer -> traces [{trace_id, root_service, root_name, start, duration_ms}]."""
    traces = []
    for item in doc.get("traces") or []:
        start_ns = int(item.get("startTimeUnixNano") or 0)
        span_sets = item.get("spanSets") or ([item["spanSet"]] if item.get("spanSet") else [])
        traces.append(
            {
                "trace_id": item.get("traceID"),
                "root_service": item.get("rootServiceName"),
                "root_name": item.get("rootTraceName"),
                "start": iso_from_ns(start_ns) if start_ns else None,
                "start_unix_nano": start_ns,
                "duration_ms": item.get("durationMs", 0),
                "matched_spans": sum(int(s.get("matched", 0)) for s in span_sets),
            }
        )
    return {"result_type": "traces", "traces": traces, "count": len(traces)}


# ------------------------------------------------------------------ the client
def _message_of(body):
    """Grafana's {"message": ...}, Prometheus's {"error": ...}, or the text itself (Loki, Tempo)."""
    text = to_text(body or b"", errors="surrogate_or_replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for key in ("error", "message"):
            if doc.get(key):
                return to_text(doc[key]).strip()
    if len(text) > 500:
        text = text[:500] + "..."
    return text


def _reason(exc):
    reason = getattr(exc, "reason", exc)
    return reason


class GrafanaClient:
    """Talks to one Grafana with the module's connection options."""

    def __init__(self, params):
        url = to_text(params["grafana_url"]).strip()
        if not re.match(r"^https?://", url):
            raise GrafanaError(
                "grafana_url %r must start with http:// or https://." % self._strip_userinfo(url), "invalid_argument"
            )
        self.base = url.rstrip("/")
        parts = urlsplit(self.base)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.display = self._strip_userinfo(self.base)
        self.token = params.get("grafana_token")
        self.user = params.get("grafana_user")
        self.password = params.get("grafana_password")
        self.org_id = params.get("org_id")
        self.validate_certs = params.get("validate_certs", True)
        self.ca_path = params.get("ca_path")
        self.timeout = float(params.get("request_timeout") or 30)
        self._secrets = [s for s in (self.token, self.password) if s]
        if self.user is not None and self.password is not None:
            pair = "%s:%s" % (self.user, self.password)
            self._basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
            self._secrets.append(self._basic)
        else:
            self._basic = None
        self._datasources = {}
        self._tempo_v1_only = set()  # uids of Tempo datasources without api/v2/traces

    @staticmethod
    def _strip_userinfo(url):
        return strip_userinfo(url)

    def redact(self, text):
        text = to_text(text)
        for secret in self._secrets:
            if secret and len(secret) >= 3:
                text = text.replace(secret, REDACTED)
        return text

    def _error(self, msg, kind, status=None):
        return GrafanaError(self.redact(msg), kind, status)

    # -------------------------------------------------------------- transport
    def _headers(self):
        headers = {"Accept": "application/json", "User-Agent": "dojo.kafka_observability"}
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        elif self._basic:
            headers["Authorization"] = "Basic %s" % self._basic
        if self.org_id is not None:
            headers["X-Grafana-Org-Id"] = str(self.org_id)
        return headers

    def request(self, method, path, params=None, data=None, context=None):
        """Send one request; return (status, body bytes). Raises GrafanaError for anything but 2xx.

        context: None for Grafana's own API, or {"datasource": ds, "language": ...} for a
        request through the datasource proxy (used to word the errors).
        """
        url = self.base + path
        if params:
            url += "?" + urlencode(params, doseq=True)
        headers = self._headers()
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urlencode(data, doseq=True)
        try:
            response = open_url(
                url,
                data=data,
                headers=headers,
                method=method,
                timeout=self.timeout,
                validate_certs=self.validate_certs,
                ca_path=self.ca_path,
                follow_redirects="safe",
                use_netrc=False,
            )
            return response.getcode(), response.read()
        except HTTPError as exc:
            try:
                body = exc.read()
            except Exception:  # pylint: disable=broad-except
                body = b""
            error = self._http_error(exc.code, exc.reason, body, method, path, context=context)
            error.detail = self.redact(_message_of(body))
            error.body = self.redact(to_text(body or b"", errors="surrogate_or_replace"))
            raise error from None
        except GrafanaError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise self._transport_error(exc, method, path) from None

    def _transport_error(self, exc, method, path):
        reason = _reason(exc)
        where = "Grafana at %s" % self.display
        if isinstance(reason, socket.gaierror):
            return self._error(
                "Cannot resolve the Grafana host '%s' (DNS lookup failed: %s); check grafana_url."
                % (self.host, to_native(reason.strerror or reason)),
                "dns",
            )
        if isinstance(reason, ConnectionRefusedError):
            return self._error(
                "Cannot connect to %s: connection refused (nothing listens on %s port %s; is Grafana running?)."
                % (where, self.host, self.port),
                "connection",
            )
        if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in to_native(reason):
            return self._error(
                "%s did not answer %s %s within %s s (request_timeout)."
                % (where, method, path.split("?")[0], _fmt_number(self.timeout)),
                "timeout",
            )
        if isinstance(reason, ssl.SSLCertVerificationError) or (
            SSLValidationError is not None and isinstance(exc, SSLValidationError)
        ):
            detail = getattr(reason, "verify_message", None) or to_native(reason)
            return self._error(
                "TLS certificate verification failed for %s (%s); set ca_path to the CA that signed Grafana's "
                "certificate, or validate_certs=false in a lab." % (where, detail),
                "tls",
            )
        if isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
            return self._error(
                "TLS handshake with %s failed (%s); check that grafana_url's scheme matches the server (http or "
                "https)." % (where, getattr(reason, "reason", None) or to_native(reason)),
                "tls",
            )
        if isinstance(reason, (ConnectionResetError, HTTPException)):
            return self._error(
                "%s closed the connection without an HTTP answer to %s %s (%s: %s); is grafana_url's scheme (http "
                "or https) right?" % (where, method, path.split("?")[0], type(reason).__name__, to_native(reason)),
                "connection",
            )
        if isinstance(reason, OSError):
            return self._error(
                "Cannot connect to %s: %s." % (where, to_native(reason.strerror or reason)), "connection"
            )
        return self._error(
            "Request %s %s to %s failed: %s: %s."
            % (method, path.split("?")[0], where, type(exc).__name__, to_native(exc)),
            "connection",
        )

    def _http_error(self, status, reason, body, method, path, *, context):
        message = _message_of(body)
        short_path = path.split("?")[0]
        status_text = "%s %s" % (status, reason or "")
        status_text = status_text.strip()
        detail = ": %s" % message.rstrip(". ") if message else ""
        if status == 401:
            if self.token or self._basic:
                return self._error(
                    "Grafana rejected the credentials (%s%s); check grafana_token, or grafana_user and "
                    "grafana_password%s." % (status_text, detail, self._org_hint()),
                    "credentials",
                    status,
                )
            return self._error(
                "Grafana requires authentication (%s%s); set grafana_token (a service account token), or "
                "grafana_user and grafana_password." % (status_text, detail),
                "credentials",
                status,
            )
        if status == 403:
            return self._error(
                "Grafana denied %s %s (%s%s): the service account or user lacks this permission."
                % (method, short_path, status_text, detail),
                "permission",
                status,
            )
        if context is not None:
            ds = context["datasource"]
            label = "Datasource '%s' (%s)" % (ds.get("name"), ds.get("type"))
            if status == 502:
                return self._error(
                    "Grafana could not reach datasource '%s' at its configured URL (%s from Grafana's datasource "
                    "proxy)%s." % (ds.get("name"), status_text, detail),
                    "bad_gateway",
                    status,
                )
            if status == 504:
                return self._error(
                    "Datasource '%s' did not answer Grafana's datasource proxy in time (%s)."
                    % (ds.get("name"), status_text),
                    "timeout",
                    status,
                )
            if status in (400, 422):
                return self._error(
                    "%s rejected the %s query (%s)%s." % (label, context.get("language", ""), status_text, detail),
                    "bad_query",
                    status,
                )
            if status == 404:
                return self._error(
                    "%s answered %s for %s%s; is its URL in Grafana right, and does it serve this API?"
                    % (label, status_text, context.get("native_path", short_path), detail),
                    "not_found",
                    status,
                )
            return self._error(
                "%s answered %s for %s%s." % (label, status_text, context.get("native_path", short_path), detail),
                "server" if status >= 500 else "bad_query",
                status,
            )
        if status == 404:
            return self._error(
                "Grafana answered %s for %s %s%s." % (status_text, method, short_path, detail), "not_found", status
            )
        return self._error(
            "Grafana answered %s for %s %s%s." % (status_text, method, short_path, detail),
            "server" if status >= 500 else "invalid_argument",
            status,
        )

    def _org_hint(self):
        if self.org_id is not None:
            return " (and that they belong to organization %s)" % self.org_id
        return ""

    def get_json(self, path, params=None, context=None):
        _status, body = self.request("GET", path, params=params, context=context)
        try:
            return json.loads(to_text(body, errors="surrogate_or_replace"))
        except ValueError:
            snippet = to_text(body, errors="surrogate_or_replace").strip()[:120]
            where = "datasource '%s'" % context["datasource"].get("name") if context else "Grafana"
            raise self._error(
                "%s answered GET %s with a body that is not JSON (%r); is grafana_url the Grafana server?"
                % (where, path.split("?")[0], snippet),
                "invalid_response",
            ) from None

    # -------------------------------------------------------------- datasources
    def list_datasources(self):
        doc = self.get_json("/api/datasources")
        if not isinstance(doc, list):
            raise self._error("Grafana's /api/datasources did not answer a list.", "invalid_response")
        return [clean_datasource(ds) for ds in doc]

    def get_datasource(self, name=None, uid=None):
        key = ("uid", uid) if uid else ("name", name)
        if key in self._datasources:
            return self._datasources[key]
        path = (
            "/api/datasources/uid/%s" % quote(uid, safe="")
            if uid
            else "/api/datasources/name/%s" % quote(name, safe="")
        )
        try:
            ds = self.get_json(path)
        except GrafanaError as exc:
            if exc.status == 404:
                org = "organization %s" % self.org_id if self.org_id is not None else "the current organization"
                what = "uid '%s'" % uid if uid else "named '%s'" % name
                raise self._error(
                    "Grafana has no datasource %s in %s (404 Not Found); list them with "
                    "dojo.kafka_observability.grafana_datasource_info." % (what, org),
                    "not_found",
                    404,
                ) from None
            raise
        if not isinstance(ds, dict) or "type" not in ds:
            raise self._error("Grafana answered %s without a datasource object." % path, "invalid_response")
        ds = clean_datasource(ds)
        self._datasources[key] = ds
        return ds

    def resolve_datasource(self, name=None, uid=None, language=None):
        """The datasource, checked against what the query language needs."""
        ds = self.get_datasource(name=name, uid=uid)
        if language is not None and ds.get("type") not in LANGUAGE_TYPES[language]:
            raise self._error(
                "Datasource '%s' (uid %s) is of type '%s', but a %s query needs %s."
                % (ds.get("name"), ds.get("uid"), ds.get("type"), language_label(language), LANGUAGE_NEEDS[language]),
                "type_mismatch",
            )
        if ds.get("access") == "direct":
            raise self._error(
                "Datasource '%s' uses browser (direct) access; Grafana's datasource proxy cannot query it: switch "
                "it to server access." % ds.get("name"),
                "invalid_argument",
            )
        return ds

    def proxy_get(self, ds, native_path, params, language):
        path = "/api/datasources/proxy/uid/%s/%s" % (quote(ds["uid"], safe=""), native_path.lstrip("/"))
        context = {"datasource": ds, "language": language_label(language), "native_path": native_path}
        return self.get_json(path, params=params, context=context)

    # -------------------------------------------------------------- native APIs
    def prometheus_query(self, ds, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = _fmt_number(at)
        return self._prometheus_data(ds, "api/v1/query", params)

    def prometheus_query_range(self, ds, expr, start, end, step):
        params = {"query": expr, "start": _fmt_number(start), "end": _fmt_number(end), "step": _fmt_number(step)}
        return self._prometheus_data(ds, "api/v1/query_range", params)

    def _prometheus_data(self, ds, native_path, params):
        doc = self.proxy_get(ds, native_path, params, "promql")
        if not isinstance(doc, dict) or doc.get("status") != "success" or "data" not in doc:
            raise self._error(
                "Datasource '%s' answered %s without a successful Prometheus API result: %s"
                % (ds.get("name"), native_path, _message_of(json.dumps(doc))),
                "invalid_response",
            )
        return doc["data"], doc.get("warnings") or []

    def prometheus_rule_groups(self, ds, rule_type=None):
        """The rule groups of api/v1/rules (rule_type alert or record: only those rules); None without that API (404).

        Each group: {name, file, rules: [{name, type, query, health, lastError, state, alerts, ...}]}.
        """
        try:
            doc = self.proxy_get(ds, "api/v1/rules", {"type": rule_type} if rule_type else None, "promql")
        except GrafanaError as exc:
            if exc.status == 404:
                return None
            raise
        groups = (doc.get("data") or {}).get("groups") if isinstance(doc, dict) else None
        if not isinstance(groups, list):
            raise self._error(
                "Datasource '%s' answered api/v1/rules without rule groups." % ds.get("name"), "invalid_response"
            )
        return groups

    def prometheus_alerts(self, ds):
        """The pending and firing alerts of api/v1/alerts."""
        doc = self.proxy_get(ds, "api/v1/alerts", None, "promql")
        alerts = (doc.get("data") or {}).get("alerts") if isinstance(doc, dict) else None
        if not isinstance(alerts, list):
            raise self._error(
                "Datasource '%s' answered api/v1/alerts without alerts." % ds.get("name"), "invalid_response"
            )
        return alerts

    def prometheus_rules(self, ds):
        """(groups, True) from api/v1/rules (alerting rules), or (alerts, False) from api/v1/alerts without that API."""
        groups = self.prometheus_rule_groups(ds, "alert")
        if groups is not None:
            return groups, True
        return self.prometheus_alerts(ds), False

    def prometheus_targets(self, ds):
        """The active scrape targets of api/v1/targets: [{scrapePool, scrapeUrl, labels, health, lastError, ...}]."""
        doc = self.proxy_get(ds, "api/v1/targets", {"state": "active"}, "promql")
        targets = (doc.get("data") or {}).get("activeTargets") if isinstance(doc, dict) else None
        if not isinstance(targets, list):
            raise self._error(
                "Datasource '%s' answered api/v1/targets without active targets; is it a Prometheus (Thanos "
                "Query has no targets API)?" % ds.get("name"),
                "invalid_response",
            )
        return targets

    def prometheus_series_count(self, ds, selector, at=None):
        """How many series the selector matches at `at` (now): count(<selector>) as an instant query."""
        data, _warnings = self.prometheus_query(ds, "count(%s)" % selector, at)
        result = normalize_prometheus(data)
        return int(result["value"] or 0) if isinstance(result["value"], (int, float)) else 0

    def prometheus_label_values(self, ds, label, match=None, start=None, end=None):
        """The values of label among the series matching match (a selector; all series when None) in [start, end]."""
        params = {}
        if match:
            params["match[]"] = match
        if start is not None:
            params["start"] = _fmt_number(start)
        if end is not None:
            params["end"] = _fmt_number(end)
        doc = self.proxy_get(ds, "api/v1/label/%s/values" % quote(label, safe=""), params, "promql")
        values = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(values, list):
            raise self._error(
                "Datasource '%s' answered api/v1/label/%s/values without values." % (ds.get("name"), label),
                "invalid_response",
            )
        return [to_text(v) for v in values]

    # -------------------------------------------------------------- datasource health
    def datasource_health(self, ds):
        """Grafana's health check of ds (GET /api/datasources/uid/<uid>/health).

        Returns {available, status, message, details, api_status}: status is Grafana's OK / ERROR (HTTP
        200 / 400). available is false (and status None) when Grafana has no health check for this
        datasource - it answers 404 (a Grafana before 9, or before its plugin had one) or 501 (a plugin
        without one).
        """
        path = "/api/datasources/uid/%s/health" % quote(ds["uid"], safe="")
        try:
            status, body = self.request("GET", path)
        except GrafanaError as exc:
            if exc.status in (404, 501):
                return {
                    "available": False,
                    "status": None,
                    "message": exc.detail,
                    "details": None,
                    "api_status": exc.status,
                }
            if exc.status != 400:
                raise
            status, body = exc.status, exc.body
        try:
            doc = json.loads(to_text(body, errors="surrogate_or_replace"))
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or "status" not in doc:
            raise self._error(
                "Grafana answered GET %s with %s but not with a health check result (%r)."
                % (path, status, to_text(body, errors="surrogate_or_replace")[:120]),
                "invalid_response",
                status,
            )
        return {
            "available": True,
            "status": to_text(doc.get("status")),
            "message": self.redact(to_text(doc.get("message") or "")),
            "details": doc.get("details"),
            "api_status": status,
        }

    def datasource_test(self, ds):
        """The test Grafana's datasource itself runs, through the datasource proxy (when Grafana has no health API).

        Prometheus: the instant query 1+1; Loki: vector(1)+vector(1), which must be 2; Tempo: GET api/echo.
        Returns {status: OK, message} (errors of the proxy are raised as GrafanaError), or None for other types.
        """
        kind = ds.get("type")
        if kind == "prometheus":
            data, _warnings = self.prometheus_query(ds, "1+1", 4)
            value = normalize_prometheus(data)["value"]
            message = "1+1 through the datasource proxy answered %s" % _fmt_answer(value)
            return {"status": "OK" if value == 2 else "ERROR", "message": message}
        if kind == "loki":
            data = self.loki_query(ds, "vector(1)+vector(1)", at=4)
            value = normalize_loki(data)["value"]
            message = "vector(1)+vector(1) through the datasource proxy answered %s" % _fmt_answer(value)
            return {"status": "OK" if value == 2 else "ERROR", "message": message}
        if kind == "tempo":
            path = "/api/datasources/proxy/uid/%s/api/echo" % quote(ds["uid"], safe="")
            context = {"datasource": ds, "language": "TraceQL", "native_path": "api/echo"}
            self.request("GET", path, context=context)
            return {"status": "OK", "message": "GET api/echo through the datasource proxy answered 2xx"}
        return None

    def loki_query_range(self, ds, query, start, end, *, limit=None, direction="backward", step=None):
        params = {
            "query": query,
            "start": str(int(start * 1e9)),
            "end": str(int(end * 1e9)),
            "direction": direction,
        }
        if limit is not None:
            params["limit"] = str(int(limit))
        if step is not None:
            params["step"] = _fmt_number(step)
        return self._loki_data(ds, "loki/api/v1/query_range", params)

    def loki_query(self, ds, query, at=None, limit=None, direction="backward"):
        params = {"query": query, "direction": direction}
        if at is not None:
            params["time"] = str(int(at * 1e9))
        if limit is not None:
            params["limit"] = str(int(limit))
        return self._loki_data(ds, "loki/api/v1/query", params)

    def _loki_data(self, ds, native_path, params):
        doc = self.proxy_get(ds, native_path, params, "logql")
        if not isinstance(doc, dict) or "data" not in doc:
            raise self._error(
                "Datasource '%s' answered %s without a Loki result." % (ds.get("name"), native_path), "invalid_response"
            )
        return doc["data"]

    def tempo_search(
        self, ds, *, query=None, tags=None, start=None, end=None, limit=None, min_duration=None, max_duration=None
    ):
        params = {}
        if query:
            params["q"] = query
        elif tags:
            params["tags"] = logfmt(tags)
        if start is not None:
            params["start"] = str(int(start))
        if end is not None:
            params["end"] = str(math.ceil(end))
        if limit is not None:
            params["limit"] = str(int(limit))
        if min_duration:
            params["minDuration"] = min_duration
        if max_duration:
            params["maxDuration"] = max_duration
        doc = self.proxy_get(ds, "api/search", params, "traceql")
        if not isinstance(doc, dict):
            raise self._error(
                "Datasource '%s' answered api/search without a Tempo result." % ds.get("name"), "invalid_response"
            )
        return doc

    def tempo_trace(self, ds, trace_id):
        """(answer, path) of Tempo's trace by id: answer None when Tempo does not have the trace (yet).

        Asks api/v2/traces/<id>; a 404 there is "not found" unless its body is Go's "404 page not
        found" (the route is unknown: a Tempo without the v2 API), in which case api/traces/<id> is
        asked instead, now and on later calls.
        """
        paths = ["api/traces/%s" % trace_id]
        if ds.get("uid") not in self._tempo_v1_only:
            paths.insert(0, "api/v2/traces/%s" % trace_id)
        for path in paths:
            try:
                doc = self.proxy_get(ds, path, None, "traceql")
            except GrafanaError as exc:
                if exc.status != 404:
                    raise
                if not _unknown_route(exc.detail):
                    return None, path
                if path.startswith("api/v2/"):
                    self._tempo_v1_only.add(ds.get("uid"))
                    continue
                raise self._error(
                    "Datasource '%s' (%s) answers neither api/v2/traces/<id> nor api/traces/<id> (404 page not "
                    "found); is its URL in Grafana the Tempo query API (port 3200)?" % (ds.get("name"), ds.get("type")),
                    "not_found",
                    404,
                ) from None
            if not isinstance(doc, dict):
                raise self._error(
                    "Datasource '%s' answered %s without a Tempo trace." % (ds.get("name"), path), "invalid_response"
                )
            return doc, path
        return None, paths[-1]  # pragma: no cover - the loop returns or raises


def _unknown_route(text):
    """Go's http.NotFound text: the server does not know the path at all (not "no such trace")."""
    return to_text(text or "").strip().lower() == "404 page not found"


def language_label(language):
    return {"promql": "PromQL", "logql": "LogQL", "traceql": "TraceQL"}.get(language, language or "")


def logfmt(tags):
    parts = []
    for key in sorted(tags):
        value = to_text(tags[key])
        if re.search(r'[\s="]', value) or value == "":
            value = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
        parts.append("%s=%s" % (key, value))
    return " ".join(parts)


_DS_SECRETS = ("password", "basicAuthPassword", "secureJsonData")


def clean_datasource(ds):
    """A datasource as Grafana returns it, minus any secret an old Grafana might include."""
    return dict((k, v) for k, v in ds.items() if k not in _DS_SECRETS)


def strip_userinfo(url):
    """A URL without its user:password@ part."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", to_text(url))


def ds_summary(ds):
    return {"uid": ds.get("uid"), "name": ds.get("name"), "type": ds.get("type"), "id": ds.get("id")}


def _fmt_answer(value):
    """A query's value for a sentence: 2 rather than 2.0, "no series" for None."""
    if value is None:
        return "no series"
    return _fmt_number(value) if isinstance(value, (int, float)) and math.isfinite(value) else to_text(value)


def _fmt_number(value):
    value = float(value)
    if value == int(value):
        return str(int(value))
    return ("%.3f" % value).rstrip("0").rstrip(".")


def now():
    return time.time()
