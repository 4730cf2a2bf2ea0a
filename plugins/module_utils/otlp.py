# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""W3C trace context and OTLP/HTTP JSON export of spans, for kafka_produce, kafka_consume and kafka_probe.

Standard library and Ansible's open_url only (no OpenTelemetry SDK on the managed host).
Python 3.9 compatible (managed hosts may run RHEL 9's platform Python).

- Trace context: https://www.w3.org/TR/trace-context/ (traceparent: version-traceid-parentid-flags,
  lowercase hex; all-zero ids are invalid; version ff is invalid).
- OTLP/HTTP: POST <endpoint>/v1/traces, Content-Type application/json, an
  ExportTraceServiceRequest in the protobuf JSON mapping with OTLP's exceptions: trace and span
  ids are lowercase hex (not base64), enums are integers, 64-bit integers are decimal strings.
- Span names and attributes follow the OpenTelemetry messaging semantic conventions
  (messaging.system, messaging.destination.name, messaging.operation.type, ...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import json
import os
import re
import socket
import ssl
import time
from http.client import HTTPException
from urllib.error import HTTPError
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.urls import open_url

try:  # not every ansible-core exports it; open_url raises it for some TLS failures
    from ansible.module_utils.urls import SSLValidationError
except ImportError:  # pragma: no cover
    SSLValidationError = None

TRACEPARENT_HEADER = "traceparent"
TRACE_ID_HEX_LEN = 32  # 16 bytes
SPAN_ID_HEX_LEN = 16  # 8 bytes
FLAG_SAMPLED = 0x01
SCOPE_NAME = "dojo.kafka_observability"

# OTLP's Span.SpanKind and Status.StatusCode
SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2

# spans per export request (a consumer that reads many traced runs sends them in a few requests)
MAX_SPANS_PER_REQUEST = 500

# The options of kafka_produce, kafka_consume and kafka_probe (documented in doc_fragments/kafka.py, OTLP).
OTLP_ARGUMENT_SPEC = dict(
    otlp_endpoint=dict(type="str"),
    otlp_service_name=dict(type="str", default="kafka-verification"),
    otlp_headers=dict(type="dict", default={}, no_log=True),
    otlp_timeout=dict(type="float", default=10.0),
)

_TRACEPARENT_RE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


class OtlpError(Exception):
    """An export that did not work; str() is one sentence naming the endpoint."""


# ------------------------------------------------------------------ ids and trace context
def _random_hex(size_bytes):
    while True:
        value = binascii.hexlify(os.urandom(size_bytes)).decode("ascii")
        if value.strip("0"):  # all zeros is the invalid id
            return value


def new_trace_id():
    """A random W3C/OTLP trace id: 16 bytes as 32 lowercase hex digits, never all zeros."""
    return _random_hex(16)


def new_span_id():
    """A random span id: 8 bytes as 16 lowercase hex digits, never all zeros."""
    return _random_hex(8)


def format_traceparent(trace_id, span_id, sampled=True):
    """The W3C traceparent header value, version 00: 00-<trace-id>-<parent-id>-<flags>."""
    if not is_trace_id(trace_id):
        raise ValueError("trace id {0!r} is not 32 lowercase hex digits (not all zeros)".format(trace_id))
    if not is_span_id(span_id):
        raise ValueError("span id {0!r} is not 16 lowercase hex digits (not all zeros)".format(span_id))
    return "00-{0}-{1}-{2:02x}".format(trace_id, span_id, FLAG_SAMPLED if sampled else 0)


def parse_traceparent(value):
    """(trace_id, span_id, flags) of a traceparent header value (str or bytes), None when invalid.

    Follows the W3C rules: version ff is invalid, version 00 is exactly 55 characters, a later
    version may append fields after a '-', all-zero ids are invalid, hex is lowercase.
    """
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = _TRACEPARENT_RE.match(value)
    if not match:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if not is_trace_id(trace_id) or not is_span_id(span_id):
        return None
    return trace_id, span_id, int(flags, 16)


def is_trace_id(value):
    return isinstance(value, str) and len(value) == TRACE_ID_HEX_LEN and _is_hex_id(value)


def is_span_id(value):
    return isinstance(value, str) and len(value) == SPAN_ID_HEX_LEN and _is_hex_id(value)


def _is_hex_id(value):
    return bool(re.match(r"^[0-9a-f]+$", value)) and bool(value.strip("0"))


def now_ns():
    return time.time_ns()


# ------------------------------------------------------------------ OTLP JSON
def attribute(key, value):
    """One OTLP KeyValue; ints as decimal strings (int64 in the protobuf JSON mapping)."""
    if isinstance(value, bool):
        any_value = {"boolValue": value}
    elif isinstance(value, int):
        any_value = {"intValue": str(value)}
    elif isinstance(value, float):
        any_value = {"doubleValue": value}
    elif isinstance(value, (list, tuple)):
        any_value = {"arrayValue": {"values": [attribute("", v)["value"] for v in value]}}
    else:
        any_value = {"stringValue": str(value)}
    return {"key": key, "value": any_value}


def make_span(trace_id, span_id, name, kind, *, start_ns, end_ns, attributes=None, parent_span_id=None, error=None):
    """An OTLP span as JSON. `attributes` is a dict (None values are left out); `error`, when
    given, sets the status to ERROR with that message."""
    if not is_trace_id(trace_id) or not is_span_id(span_id):
        raise ValueError("invalid trace id {0!r} or span id {1!r}".format(trace_id, span_id))
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(int(start_ns)),
        "endTimeUnixNano": str(int(max(end_ns, start_ns))),
        "attributes": [attribute(k, v) for k, v in sorted((attributes or {}).items()) if v is not None],
        "status": {"code": STATUS_ERROR, "message": str(error)} if error else {"code": STATUS_UNSET},
    }
    if parent_span_id:
        if not is_span_id(parent_span_id):
            raise ValueError("invalid parent span id {0!r}".format(parent_span_id))
        span["parentSpanId"] = parent_span_id
    return span


def traces_request(service_name, spans, scope_name=SCOPE_NAME, resource_attributes=None):
    """An ExportTraceServiceRequest (OTLP JSON) with one resource (service.name) and one scope."""
    resource = {"service.name": service_name}
    resource.update(resource_attributes or {})
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attribute(k, v) for k, v in sorted(resource.items()) if v is not None]},
                "scopeSpans": [{"scope": {"name": scope_name}, "spans": list(spans)}],
            }
        ]
    }


def messaging_attributes(topic, operation, message_count, bootstrap_servers=None, extra=None):
    """The messaging semantic conventions' attributes of a Kafka span."""
    attributes = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.batch.message_count": int(message_count),
    }
    if bootstrap_servers:
        host, _sep, port = str(bootstrap_servers[0]).rpartition(":")
        if host and port.isdigit():
            attributes["server.address"] = host.strip("[]")
            attributes["server.port"] = int(port)
    attributes.update(extra or {})
    return attributes


# ------------------------------------------------------------------ endpoint and export
def endpoint_problem(endpoint):
    """None when `endpoint` can be used as an OTLP/HTTP endpoint, else the reason (for fail_json)."""
    if not endpoint or not str(endpoint).strip():
        return "otlp_endpoint is empty"
    try:
        parts = urlsplit(str(endpoint).strip())
        port = parts.port
    except ValueError as exc:
        return "otlp_endpoint {0!r} is not a URL ({1})".format(redact_url(endpoint), exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "otlp_endpoint {0!r} is not an http:// or https:// URL with a host (e.g. http://collector:4318)".format(
            redact_url(endpoint)
        )
    if port is not None and not 0 < port < 65536:
        return "otlp_endpoint {0!r} has an invalid port".format(redact_url(endpoint))
    return None


def traces_url(endpoint):
    """POST target: <endpoint>/v1/traces, or the endpoint itself when it already ends with /v1/traces
    (as OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT are read)."""
    endpoint = str(endpoint).strip()
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/traces"):
        path += "/v1/traces"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def redact_url(url):
    """The URL without user:password@ (never shown in messages)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _reason(exc):
    return getattr(exc, "reason", exc)


def _short(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_transport_error(exc, timeout):
    """What went wrong, in a few words, for an exception open_url raised."""
    reason = _reason(exc)
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve ({0})".format(reason.strerror or reason)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens there: is the collector running, is the port right?)"
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return "no answer within {0:g} s (otlp_timeout)".format(timeout)
    if isinstance(reason, ssl.SSLCertVerificationError) or (
        SSLValidationError is not None and isinstance(exc, SSLValidationError)
    ):
        return "TLS certificate verification failed ({0})".format(
            _short(getattr(reason, "verify_message", None) or reason)
        )
    if isinstance(reason, (ssl.SSLError, ssl.CertificateError)):
        return "the TLS handshake failed ({0}): does the scheme (http or https) match the endpoint?".format(
            _short(getattr(reason, "reason", None) or reason)
        )
    if isinstance(reason, (ConnectionResetError, HTTPException)):
        return "the connection closed without an HTTP answer ({0})".format(type(reason).__name__)
    if isinstance(reason, OSError):
        return "cannot connect ({0})".format(_short(reason.strerror or reason))
    return "{0}: {1}".format(type(exc).__name__, _short(exc))


def _partial_success(body):
    """(rejected span count, error message) of an ExportTraceServiceResponse body, (0, "") if none."""
    try:
        doc = json.loads(body.decode("utf-8")) if body else {}
    except (ValueError, UnicodeDecodeError):
        return 0, ""  # a protobuf or empty answer to a 2xx: accepted
    partial = (doc.get("partialSuccess") if isinstance(doc, dict) else None) or {}
    try:
        rejected = int(partial.get("rejectedSpans") or 0)
    except (TypeError, ValueError):
        rejected = 0
    return rejected, str(partial.get("errorMessage") or "")


def export_spans(endpoint, service_name, spans, *, headers=None, timeout=10.0, open_url_func=None):
    """POST the spans to <endpoint>/v1/traces as OTLP JSON; returns the number of spans accepted.

    Raises OtlpError with one sentence (the endpoint without credentials, and what happened:
    refused, DNS, TLS, timeout, the HTTP status and the start of its body, spans rejected).
    """
    url = traces_url(endpoint)
    shown = redact_url(url)
    request_headers = {"Content-Type": "application/json", "Accept": "application/json"}
    for name, value in (headers or {}).items():
        request_headers[str(name)] = str(value)
    opener = open_url_func or open_url
    spans = list(spans)
    accepted = 0
    for first in range(0, len(spans), MAX_SPANS_PER_REQUEST):
        chunk = spans[first : first + MAX_SPANS_PER_REQUEST]
        body = json.dumps(traces_request(service_name, chunk), separators=(",", ":"))
        try:
            response = opener(
                url,
                data=body,
                headers=request_headers,
                method="POST",
                timeout=timeout,
                follow_redirects="safe",
                use_netrc=False,
                http_agent="dojo.kafka_observability",
            )
            answer = response.read()
        except HTTPError as exc:
            try:
                detail = exc.read().decode("utf-8", "replace")
            except Exception:  # pylint: disable=broad-except
                detail = ""
            raise OtlpError(
                "the OTLP endpoint {0} answered HTTP {1} {2}{3}".format(
                    shown, exc.code, exc.reason or "", ": " + _short(detail) if detail.strip() else ""
                ).rstrip()
            ) from None
        except Exception as exc:  # pylint: disable=broad-except
            raise OtlpError(
                "the OTLP endpoint {0} could not be reached: {1}".format(shown, describe_transport_error(exc, timeout))
            ) from None
        rejected, message = _partial_success(answer)
        if rejected:
            raise OtlpError(
                "the OTLP endpoint {0} rejected {1} of {2} spans{3}".format(
                    shown, rejected, len(chunk), ": " + _short(message) if message else ""
                )
            )
        accepted += len(chunk)
    return accepted
