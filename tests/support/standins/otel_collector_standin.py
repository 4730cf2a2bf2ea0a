"""OpenTelemetry-collector stand-in: test support, NOT product.

The OpenTelemetry collector cannot be installed where this collection is developed and
tested (no registry, no GitHub downloads). This stand-in plays the collector the user's
tutorial runs on the monitoring host, configured as::

    receivers:  otlp (protocols: http, endpoint 0.0.0.0:4318)
    exporters:  prometheus (endpoint 0.0.0.0:8889)   <- metrics pipeline
                otlphttp -> Tempo                     <- traces pipeline (optional)
                loki -> Loki push API                 <- logs pipeline (optional)

Python standard library only (it also runs inside the lab's monitoring guest, which has
python3 but no network). Never shipped (galaxy.yml build_ignore excludes tests/support).

CLI
===
    python3 otel_collector_standin.py [--listen 0.0.0.0:4318] [--prometheus-listen 0.0.0.0:8889]
        [--metric-expiration 300] [--resource-to-telemetry-conversion]
        [--traces-url http://127.0.0.1:3200/v1/traces]
        [--logs-url http://127.0.0.1:3100/loki/api/v1/push] [--verbose]

A port of 0 binds a free port. When both listeners are up it prints one line to stdout:
``otel-collector stand-in ready: otlp=http://H:P prometheus=http://H:P/metrics``.
SIGTERM/SIGINT stop it.

OTLP/HTTP receiver (the contract of the collector's otlp receiver, OTLP 1.x)
============================================================================
- ``POST /v1/metrics``, ``POST /v1/traces``, ``POST /v1/logs`` with ``Content-Type:
  application/x-protobuf`` (binary protobuf, what Tansu's Rust exporter sends) or
  ``application/json`` (OTLP/JSON: lowerCamelCase keys, 64-bit integers as strings, trace
  and span ids as hex); ``Content-Encoding: gzip`` accepted. Answer: 200 with an empty
  Export*ServiceResponse in the request's encoding; 400 with a ``google.rpc.Status`` for a
  body that does not decode; 415 for another content type. ``/v1/traces`` and ``/v1/logs``
  answer 404 when their pipeline has no exporter (``--traces-url`` / ``--logs-url`` unset),
  like a collector without that pipeline.
- ``GET /healthz`` -> ``ok``; ``GET /standin/status`` -> JSON counters (requests per
  signal, last receive time, forward errors, series count) for test assertions.

Protobuf decoding: a minimal wire-format decoder (varint, 64-bit, length-delimited, 32-bit
wire types; packed and unpacked repeated scalars; unknown fields skipped as proto3 does)
driven by the SCHEMAS table below, which lists exactly the OTLP fields decoded (from
opentelemetry-proto: collector/{metrics,trace,logs}/v1, metrics/v1, trace/v1, logs/v1,
common/v1, resource/v1). A binary request is first turned into its canonical OTLP/JSON
form; both encodings then take the same path.

Prometheus exporter (the collector's ``prometheus`` exporter, default settings)
================================================================================
``GET /metrics`` on ``--prometheus-listen`` (text format 0.0.4), following the exporter's
documented behaviour (exporter/prometheusexporter + prometheus/otlptranslator):
- names: characters outside ``[a-zA-Z0-9:]`` become ``_`` (redundant ``_`` dropped); the
  unit is appended (``ms`` -> ``milliseconds``, ``By`` -> ``bytes``, ``s`` -> ``seconds``,
  ``X/Y`` -> ``X_per_Y``; ``{...}`` units dropped); monotonic sums are counters with
  ``_total``; gauges with unit ``1`` get ``_ratio``; non-monotonic sums are gauges;
  histograms give ``_bucket{le}``/``_sum``/``_count``; summaries ``{quantile}``/``_sum``/``_count``;
  exponential histograms (native histograms, not expressible in the text format) are dropped.
- labels: data point attributes (``.`` -> ``_``, a leading digit gets ``key_``), scope
  attributes as ``otel_scope_<key>``, ``otel_scope_name``, ``otel_scope_version``;
  ``job`` = ``service.namespace/service.name`` and ``instance`` = ``service.instance.id``.
  Other resource attributes go to one ``target_info`` gauge per resource having both a job
  and an instance (or onto every series with ``--resource-to-telemetry-conversion``).
- delta monotonic sums and delta histograms are accumulated into cumulative ones, delta
  non-monotonic sums are dropped; series not updated for ``--metric-expiration`` seconds
  (default 300, the exporter's 5m) disappear; no sample timestamps (send_timestamps: false).

Traces are forwarded to ``--traces-url`` as OTLP/HTTP JSON (what the Tempo stand-in
ingests). Logs are forwarded to ``--logs-url`` as a Loki push (JSON): one stream per
resource, labelled ``service_name`` (resource ``service.name``, else ``unknown_service``)
plus ``service_namespace``/``service_instance_id``/``deployment_environment`` when present
(Loki's default OTLP index labels); the line is the body (string, or JSON for structured
bodies), the timestamp ``timeUnixNano`` (else ``observedTimeUnixNano``).
"""

import argparse
import base64
import gzip
import json
import math
import re
import signal
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STANDIN_NAME = "otel-collector-standin"
SERVER_HEADER = "otel-collector-standin/1.0 (OpenTelemetry collector stand-in)"


# --------------------------------------------------------------------------- protobuf


class DecodeError(ValueError):
    """The body is not a valid protobuf encoding of the expected OTLP message."""


# Field tables: message -> {field number: (OTLP/JSON name, type, repeated)}.
# Types: string, bool, int64 (varint), uint32, enum, sint32 (zigzag), uint64 (varint),
# fixed64, sfixed64, double, fixed32, bytes (JSON base64), hexbytes (JSON hex: trace and
# span ids), or the name of another message in this table.
SCHEMAS = {
    # common/v1, resource/v1
    "AnyValue": {
        1: ("stringValue", "string", False),
        2: ("boolValue", "bool", False),
        3: ("intValue", "int64", False),
        4: ("doubleValue", "double", False),
        5: ("arrayValue", "ArrayValue", False),
        6: ("kvlistValue", "KeyValueList", False),
        7: ("bytesValue", "bytes", False),
    },
    "ArrayValue": {1: ("values", "AnyValue", True)},
    "KeyValueList": {1: ("values", "KeyValue", True)},
    "KeyValue": {1: ("key", "string", False), 2: ("value", "AnyValue", False)},
    "InstrumentationScope": {
        1: ("name", "string", False),
        2: ("version", "string", False),
        3: ("attributes", "KeyValue", True),
        4: ("droppedAttributesCount", "uint32", False),
    },
    "Resource": {1: ("attributes", "KeyValue", True), 2: ("droppedAttributesCount", "uint32", False)},
    # collector/metrics/v1, metrics/v1
    "ExportMetricsServiceRequest": {1: ("resourceMetrics", "ResourceMetrics", True)},
    "ResourceMetrics": {
        1: ("resource", "Resource", False),
        2: ("scopeMetrics", "ScopeMetrics", True),
        3: ("schemaUrl", "string", False),
    },
    "ScopeMetrics": {
        1: ("scope", "InstrumentationScope", False),
        2: ("metrics", "Metric", True),
        3: ("schemaUrl", "string", False),
    },
    "Metric": {
        1: ("name", "string", False),
        2: ("description", "string", False),
        3: ("unit", "string", False),
        5: ("gauge", "Gauge", False),
        7: ("sum", "Sum", False),
        9: ("histogram", "Histogram", False),
        10: ("exponentialHistogram", "ExponentialHistogram", False),
        11: ("summary", "Summary", False),
        12: ("metadata", "KeyValue", True),
    },
    "Gauge": {1: ("dataPoints", "NumberDataPoint", True)},
    "Sum": {
        1: ("dataPoints", "NumberDataPoint", True),
        2: ("aggregationTemporality", "enum", False),
        3: ("isMonotonic", "bool", False),
    },
    "Histogram": {1: ("dataPoints", "HistogramDataPoint", True), 2: ("aggregationTemporality", "enum", False)},
    "ExponentialHistogram": {
        1: ("dataPoints", "ExponentialHistogramDataPoint", True),
        2: ("aggregationTemporality", "enum", False),
    },
    "Summary": {1: ("dataPoints", "SummaryDataPoint", True)},
    "NumberDataPoint": {
        7: ("attributes", "KeyValue", True),
        2: ("startTimeUnixNano", "fixed64", False),
        3: ("timeUnixNano", "fixed64", False),
        4: ("asDouble", "double", False),
        6: ("asInt", "sfixed64", False),
        5: ("exemplars", "Exemplar", True),
        8: ("flags", "uint32", False),
    },
    "HistogramDataPoint": {
        9: ("attributes", "KeyValue", True),
        2: ("startTimeUnixNano", "fixed64", False),
        3: ("timeUnixNano", "fixed64", False),
        4: ("count", "fixed64", False),
        5: ("sum", "double", False),
        6: ("bucketCounts", "fixed64", True),
        7: ("explicitBounds", "double", True),
        8: ("exemplars", "Exemplar", True),
        10: ("flags", "uint32", False),
        11: ("min", "double", False),
        12: ("max", "double", False),
    },
    "ExponentialHistogramDataPoint": {
        1: ("attributes", "KeyValue", True),
        2: ("startTimeUnixNano", "fixed64", False),
        3: ("timeUnixNano", "fixed64", False),
        4: ("count", "fixed64", False),
        5: ("sum", "double", False),
        6: ("scale", "sint32", False),
        7: ("zeroCount", "fixed64", False),
        8: ("positive", "Buckets", False),
        9: ("negative", "Buckets", False),
        10: ("flags", "uint32", False),
        11: ("exemplars", "Exemplar", True),
        12: ("min", "double", False),
        13: ("max", "double", False),
        14: ("zeroThreshold", "double", False),
    },
    "Buckets": {1: ("offset", "sint32", False), 2: ("bucketCounts", "uint64", True)},
    "SummaryDataPoint": {
        7: ("attributes", "KeyValue", True),
        2: ("startTimeUnixNano", "fixed64", False),
        3: ("timeUnixNano", "fixed64", False),
        4: ("count", "fixed64", False),
        5: ("sum", "double", False),
        6: ("quantileValues", "ValueAtQuantile", True),
        8: ("flags", "uint32", False),
    },
    "ValueAtQuantile": {1: ("quantile", "double", False), 2: ("value", "double", False)},
    "Exemplar": {
        7: ("filteredAttributes", "KeyValue", True),
        2: ("timeUnixNano", "fixed64", False),
        3: ("asDouble", "double", False),
        6: ("asInt", "sfixed64", False),
        4: ("spanId", "hexbytes", False),
        5: ("traceId", "hexbytes", False),
    },
    # collector/trace/v1, trace/v1
    "ExportTraceServiceRequest": {1: ("resourceSpans", "ResourceSpans", True)},
    "ResourceSpans": {
        1: ("resource", "Resource", False),
        2: ("scopeSpans", "ScopeSpans", True),
        3: ("schemaUrl", "string", False),
    },
    "ScopeSpans": {
        1: ("scope", "InstrumentationScope", False),
        2: ("spans", "Span", True),
        3: ("schemaUrl", "string", False),
    },
    "Span": {
        1: ("traceId", "hexbytes", False),
        2: ("spanId", "hexbytes", False),
        3: ("traceState", "string", False),
        4: ("parentSpanId", "hexbytes", False),
        16: ("flags", "fixed32", False),
        5: ("name", "string", False),
        6: ("kind", "enum", False),
        7: ("startTimeUnixNano", "fixed64", False),
        8: ("endTimeUnixNano", "fixed64", False),
        9: ("attributes", "KeyValue", True),
        10: ("droppedAttributesCount", "uint32", False),
        11: ("events", "SpanEvent", True),
        12: ("droppedEventsCount", "uint32", False),
        13: ("links", "SpanLink", True),
        14: ("droppedLinksCount", "uint32", False),
        15: ("status", "Status", False),
    },
    "SpanEvent": {
        1: ("timeUnixNano", "fixed64", False),
        2: ("name", "string", False),
        3: ("attributes", "KeyValue", True),
        4: ("droppedAttributesCount", "uint32", False),
    },
    "SpanLink": {
        1: ("traceId", "hexbytes", False),
        2: ("spanId", "hexbytes", False),
        3: ("traceState", "string", False),
        4: ("attributes", "KeyValue", True),
        5: ("droppedAttributesCount", "uint32", False),
        6: ("flags", "fixed32", False),
    },
    "Status": {2: ("message", "string", False), 3: ("code", "enum", False)},
    # collector/logs/v1, logs/v1
    "ExportLogsServiceRequest": {1: ("resourceLogs", "ResourceLogs", True)},
    "ResourceLogs": {
        1: ("resource", "Resource", False),
        2: ("scopeLogs", "ScopeLogs", True),
        3: ("schemaUrl", "string", False),
    },
    "ScopeLogs": {
        1: ("scope", "InstrumentationScope", False),
        2: ("logRecords", "LogRecord", True),
        3: ("schemaUrl", "string", False),
    },
    "LogRecord": {
        1: ("timeUnixNano", "fixed64", False),
        11: ("observedTimeUnixNano", "fixed64", False),
        2: ("severityNumber", "enum", False),
        3: ("severityText", "string", False),
        5: ("body", "AnyValue", False),
        6: ("attributes", "KeyValue", True),
        7: ("droppedAttributesCount", "uint32", False),
        8: ("flags", "fixed32", False),
        9: ("traceId", "hexbytes", False),
        10: ("spanId", "hexbytes", False),
        12: ("eventName", "string", False),
    },
}

REQUEST_MESSAGES = {
    "metrics": "ExportMetricsServiceRequest",
    "traces": "ExportTraceServiceRequest",
    "logs": "ExportLogsServiceRequest",
}

_VARINT_TYPES = {"int64", "uint32", "enum", "sint32", "uint64", "bool"}
_I64_TYPES = {"fixed64", "sfixed64", "double"}
_I32_TYPES = {"fixed32"}
_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


def _read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def iter_fields(buf):
    """Yield (field number, wire type, raw value) for each field of one message.

    The raw value is an int for varints, and bytes for the 64-bit, length-delimited and
    32-bit wire types. Groups (wire types 3 and 4) are not used by OTLP: DecodeError.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == _WIRE_VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == _WIRE_I64:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == _WIRE_LEN:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == _WIRE_I32:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise DecodeError("unsupported wire type {0} (field {1})".format(wire, number))
        if pos > end:
            raise DecodeError("field {0} runs past the end of its message".format(number))
        yield number, wire, value


def _json_double(value):
    # protojson writes non-finite doubles as strings
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _scalar_from_varint(kind, raw):
    if kind == "bool":
        return bool(raw)
    if kind == "int64":
        return str(raw - (1 << 64) if raw >= 1 << 63 else raw)
    if kind == "uint64":
        return str(raw)
    if kind == "sint32":
        return (raw >> 1) ^ -(raw & 1)
    if kind == "enum":
        raw &= 0xFFFFFFFF
        return raw - (1 << 32) if raw >= 1 << 31 else raw
    return raw & 0xFFFFFFFF  # uint32


def _scalar_from_fixed(kind, raw):
    if kind == "fixed64":
        return str(struct.unpack("<Q", raw)[0])
    if kind == "sfixed64":
        return str(struct.unpack("<q", raw)[0])
    if kind == "double":
        return _json_double(struct.unpack("<d", raw)[0])
    return struct.unpack("<I", raw)[0]  # fixed32


def _unpack_packed(kind, raw):
    if kind in _I64_TYPES:
        if len(raw) % 8:
            raise DecodeError("packed 64-bit field with a length not a multiple of 8")
        return [_scalar_from_fixed(kind, raw[i : i + 8]) for i in range(0, len(raw), 8)]
    if kind in _I32_TYPES:
        if len(raw) % 4:
            raise DecodeError("packed 32-bit field with a length not a multiple of 4")
        return [_scalar_from_fixed(kind, raw[i : i + 4]) for i in range(0, len(raw), 4)]
    values = []
    pos = 0
    while pos < len(raw):
        value, pos = _read_varint(raw, pos)
        values.append(_scalar_from_varint(kind, value))
    return values


def decode_message(message, buf):
    """Decode one protobuf message into its canonical OTLP/JSON dict (SCHEMAS drives it)."""
    schema = SCHEMAS[message]
    out = {}
    for number, wire, raw in iter_fields(bytes(buf)):
        spec = schema.get(number)
        if spec is None:
            continue  # unknown field: skipped, as proto3 parsers do
        name, kind, repeated = spec
        if kind in SCHEMAS:
            if wire != _WIRE_LEN:
                raise DecodeError("{0}.{1}: expected a message".format(message, name))
            value = decode_message(kind, raw)
        elif kind in ("string", "bytes", "hexbytes"):
            if wire != _WIRE_LEN:
                raise DecodeError("{0}.{1}: expected a length-delimited field".format(message, name))
            if kind == "string":
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DecodeError("{0}.{1}: invalid UTF-8".format(message, name)) from exc
            elif kind == "hexbytes":
                value = raw.hex()
            else:
                value = base64.b64encode(raw).decode("ascii")
        elif repeated and wire == _WIRE_LEN:
            out.setdefault(name, []).extend(_unpack_packed(kind, raw))
            continue
        elif kind in _VARINT_TYPES and wire == _WIRE_VARINT:
            value = _scalar_from_varint(kind, raw)
        elif (kind in _I64_TYPES and wire == _WIRE_I64) or (kind in _I32_TYPES and wire == _WIRE_I32):
            value = _scalar_from_fixed(kind, raw)
        else:
            raise DecodeError("{0}.{1}: wire type {2} does not match {3}".format(message, name, wire, kind))
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value  # last one wins, as protobuf merges scalars
    return out


def decode_request(signal_name, body):
    """Decode a binary Export{Metrics,Trace,Logs}ServiceRequest into OTLP/JSON."""
    return decode_message(REQUEST_MESSAGES[signal_name], body)


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_status(code, message):
    """google.rpc.Status {int32 code = 1; string message = 2} (the OTLP/HTTP error body)."""
    text = message.encode("utf-8")
    return b"\x08" + _encode_varint(code) + b"\x12" + _encode_varint(len(text)) + text


# --------------------------------------------------------------------------- OTLP/JSON helpers


def _field(doc, camel, default=None):
    """Read an OTLP/JSON field: lowerCamelCase, or the proto name (snake_case) receivers also accept."""
    if camel in doc:
        return doc[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return doc.get(snake, default)


def _number(value, default=0.0):
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return float(value)  # "NaN", "Infinity", "-Infinity", "12"
        except ValueError as exc:
            raise DecodeError("not a number: {0!r}".format(value)) from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecodeError("not a number: {0!r}".format(value))
    return float(value)


def _integer(value, default=0):
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DecodeError("not an integer: {0!r}".format(value)) from exc


_TEMPORALITY = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}


def _temporality(value):
    if isinstance(value, str) and value in _TEMPORALITY:
        return _TEMPORALITY[value]
    return _integer(value, 0)


def any_value(value):
    """OTLP/JSON AnyValue -> Python value."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "string_value"):
        if key in value:
            return value[key]
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("intValue", "int_value"):
        if key in value:
            return _integer(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            return _number(value[key])
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [any_value(item) for item in (value[key] or {}).get("values", [])]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return attributes((value[key] or {}).get("values", []))
    for key in ("bytesValue", "bytes_value"):
        if key in value:
            return base64.b64decode(value[key])
    return None


def attributes(key_values):
    """OTLP/JSON list of KeyValue -> dict."""
    out = {}
    for item in key_values or []:
        if not isinstance(item, dict) or "key" not in item:
            raise DecodeError("attribute without a key: {0!r}".format(item))
        out[item["key"]] = any_value(item.get("value"))
    return out


def as_string(value):
    """pcommon.Value.AsString(): how the collector turns an attribute into a label value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value).replace("e+", "e")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=as_string)


# --------------------------------------------------------------------------- naming


# prometheus/otlptranslator unit tables
_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}


def _clean_unit(unit):
    return "_".join(token for token in re.split(r"[^a-zA-Z0-9]+", unit) if token)


def _unit_tokens(unit):
    unit = (unit or "").strip()
    if not unit or (unit.startswith("{") and unit.endswith("}")):
        return "", ""
    main, _sep, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    if main.startswith("{") and main.endswith("}"):
        main = ""
    if per.startswith("{") and per.endswith("}"):
        per = ""
    main = _UNITS.get(main, main)
    per = _PER_UNITS.get(per, per)
    return _clean_unit(main), _clean_unit(per)


def metric_name(name, unit, kind, namespace=""):
    """Prometheus name of an OTLP metric (otlptranslator, UnderscoreEscapingWithSuffixes).

    kind: counter (monotonic sum), gauge (gauge or non-monotonic sum), histogram, summary.
    """
    tokens = [token for token in re.split(r"[^a-zA-Z0-9:]+|_", name) if token]
    main, per = _unit_tokens(unit)
    if main and main not in tokens:
        tokens.append(main)
    if per and per not in tokens:
        tokens.extend(["per", per])
    if kind == "counter":
        tokens = [token for token in tokens if token != "total"] + ["total"]
    if kind == "gauge" and (unit or "").strip() == "1":
        tokens = [token for token in tokens if token != "ratio"] + ["ratio"]
    result = "_".join(tokens)
    if namespace:
        result = label_name(namespace) + "_" + result
    if result and result[0].isdigit():
        result = "_" + result
    return result


def label_name(key):
    """Prometheus label name of an OTLP attribute key (otlptranslator LabelNamer, no UTF-8)."""
    sanitized = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    if sanitized and sanitized[0].isdigit():
        sanitized = "key_" + sanitized
    elif sanitized.startswith("_") and not sanitized.startswith("__"):
        sanitized = "key" + sanitized
    return sanitized


def job_and_instance(resource_attrs):
    job = instance = None
    if "service.name" in resource_attrs:
        job = as_string(resource_attrs["service.name"])
        if "service.namespace" in resource_attrs:
            job = as_string(resource_attrs["service.namespace"]) + "/" + job
    if "service.instance.id" in resource_attrs:
        instance = as_string(resource_attrs["service.instance.id"])
    return job, instance


# --------------------------------------------------------------------------- the metric store

_SERVICE_KEYS = ("service.name", "service.namespace", "service.instance.id")


def _frozen(mapping):
    return tuple(sorted((k, as_string(v)) for k, v in mapping.items()))


class MetricStore:
    """The prometheus exporter's accumulator: the latest state of every series."""

    def __init__(self, expiration=300.0, resource_to_telemetry=False, clock=time.monotonic):
        self.expiration = float(expiration)
        self.resource_to_telemetry = resource_to_telemetry
        self.clock = clock
        self.lock = threading.Lock()
        self.series = {}
        self.dropped_points = 0

    # -- ingestion
    def ingest(self, request):
        """Ingest one OTLP/JSON ExportMetricsServiceRequest. Returns the number of data points stored."""
        if not isinstance(request, dict):
            raise DecodeError("the request is not a JSON object")
        stored = 0
        now = self.clock()
        with self.lock:
            for rm in _field(request, "resourceMetrics") or []:
                resource = attributes((_field(rm, "resource") or {}).get("attributes"))
                for sm in _field(rm, "scopeMetrics") or []:
                    scope_doc = _field(sm, "scope") or {}
                    scope = (
                        scope_doc.get("name", "") or "",
                        scope_doc.get("version", "") or "",
                        _field(sm, "schemaUrl", "") or "",
                        attributes(scope_doc.get("attributes")),
                    )
                    for metric in sm.get("metrics") or []:
                        stored += self._ingest_metric(metric, resource, scope, now)
        return stored

    def _ingest_metric(self, metric, resource, scope, now):
        name = metric.get("name") or ""
        if not name:
            raise DecodeError("metric without a name")
        meta = {"otlp_name": name, "description": metric.get("description", "") or "", "unit": metric.get("unit", "")}
        if "gauge" in metric:
            body, kind, temporality = metric["gauge"], "gauge", 2
        elif "sum" in metric:
            body = metric["sum"]
            monotonic = bool(_field(body, "isMonotonic", False))
            temporality = _temporality(_field(body, "aggregationTemporality"))
            kind = "counter" if monotonic else "gauge"
            if not monotonic and temporality == 1:
                self.dropped_points += len(_field(body, "dataPoints") or [])
                return 0
        elif "histogram" in metric:
            body, kind = metric["histogram"], "histogram"
            temporality = _temporality(_field(body, "aggregationTemporality"))
        elif "summary" in metric:
            body, kind, temporality = metric["summary"], "summary", 2
        else:  # exponential histograms (native histograms) and empty metrics
            body = metric.get("exponentialHistogram") or metric.get("exponential_histogram") or {}
            self.dropped_points += len(_field(body, "dataPoints") or [])
            return 0
        meta["kind"] = kind
        meta["name"] = metric_name(name, meta["unit"], kind)
        stored = 0
        for dp in _field(body, "dataPoints") or []:
            point = self._point(kind, dp)
            point_attrs = attributes(dp.get("attributes"))
            key = (meta["name"], kind, _frozen(resource), scope[:3], _frozen(scope[3]), _frozen(point_attrs))
            old = self.series.get(key)
            if old is not None and temporality == 1:
                point = self._accumulate(kind, old["point"], point)
            elif old is not None and point["time"] < old["point"]["time"]:
                continue  # out of order: keep the newer cumulative value
            self.series[key] = {
                "meta": meta,
                "resource": resource,
                "scope": scope,
                "attrs": point_attrs,
                "point": point,
                "updated": now,
            }
            stored += 1
        return stored

    @staticmethod
    def _point(kind, dp):
        point = {"time": _integer(_field(dp, "timeUnixNano")), "start": _integer(_field(dp, "startTimeUnixNano"))}
        if kind in ("gauge", "counter"):
            if "asInt" in dp or "as_int" in dp:
                point["value"] = float(_integer(_field(dp, "asInt")))
            else:
                point["value"] = _number(_field(dp, "asDouble"))
        elif kind == "histogram":
            point["count"] = _integer(dp.get("count"))
            point["sum"] = _number(dp.get("sum"))
            point["bounds"] = [_number(b) for b in _field(dp, "explicitBounds") or []]
            point["buckets"] = [_integer(c) for c in _field(dp, "bucketCounts") or []]
        else:
            point["count"] = _integer(dp.get("count"))
            point["sum"] = _number(dp.get("sum"))
            point["quantiles"] = [
                (_number(q.get("quantile")), _number(q.get("value"))) for q in _field(dp, "quantileValues") or []
            ]
        return point

    @staticmethod
    def _accumulate(kind, old, new):
        """Delta -> cumulative, as the exporter's accumulator does for monotonic sums and histograms."""
        merged = dict(new, start=old["start"] or new["start"], time=max(old["time"], new["time"]))
        if kind == "counter":
            merged["value"] = old["value"] + new["value"]
        elif kind == "histogram" and old["bounds"] == new["bounds"]:
            merged["count"] = old["count"] + new["count"]
            merged["sum"] = old["sum"] + new["sum"]
            merged["buckets"] = [a + b for a, b in zip(old["buckets"], new["buckets"])]
        return merged

    # -- exposition
    def expire(self):
        deadline = self.clock() - self.expiration
        with self.lock:
            for key in [k for k, v in self.series.items() if v["updated"] < deadline]:
                del self.series[key]

    def render(self):
        """The Prometheus text exposition (format 0.0.4) of every live series."""
        self.expire()
        with self.lock:
            entries = list(self.series.values())
        families = {}
        kinds = {}
        targets = {}
        for entry in entries:
            meta = entry["meta"]
            name = meta["name"]
            if kinds.setdefault(name, (meta["kind"], meta["description"]))[0] != meta["kind"]:
                continue  # instrument type conflict: the exporter keeps the first definition
            families.setdefault(name, []).append(entry)
            job, instance = job_and_instance(entry["resource"])
            if job is not None and instance is not None:
                targets[(job, instance)] = entry["resource"]
        lines = []
        if targets:
            lines += ["# HELP target_info Target metadata", "# TYPE target_info gauge"]
            for (job, instance), resource in sorted(targets.items()):
                labels = _merge_labels(
                    [(label_name(k), as_string(v)) for k, v in resource.items() if k not in _SERVICE_KEYS]
                    + [("job", job), ("instance", instance)]
                )
                lines.append(_sample("target_info", labels, 1.0))
        for name in sorted(families):
            kind, description = kinds[name]
            if description:
                lines.append("# HELP {0} {1}".format(name, _escape_help(description)))
            lines.append("# TYPE {0} {1}".format(name, kind))
            rendered = []
            for entry in families[name]:
                labels = self._labels(entry)
                rendered.append((labels, entry["point"]))
            for labels, point in sorted(rendered, key=lambda item: item[0]):
                lines.extend(_render_point(name, kind, labels, point))
        return "\n".join(lines) + "\n" if lines else ""

    def _labels(self, entry):
        pairs = [(label_name(k), as_string(v)) for k, v in entry["attrs"].items()]
        scope_name, scope_version, scope_schema, scope_attrs = entry["scope"]
        pairs += [(label_name("otel_scope_" + k), as_string(v)) for k, v in scope_attrs.items()]
        pairs += [
            ("otel_scope_name", scope_name),
            ("otel_scope_version", scope_version),
            ("otel_scope_schema_url", scope_schema),
        ]
        if self.resource_to_telemetry:
            pairs += [(label_name(k), as_string(v)) for k, v in entry["resource"].items()]
        job, instance = job_and_instance(entry["resource"])
        if job is not None:
            pairs.append(("job", job))
        if instance is not None:
            pairs.append(("instance", instance))
        return _merge_labels(pairs)

    def status(self):
        with self.lock:
            return {"series": len(self.series), "dropped_points": self.dropped_points}


def _merge_labels(pairs):
    """Labels sorted by name; empty values dropped (Prometheus ignores them); clashes joined with ';'."""
    merged = {}
    for key, value in pairs:
        if value == "" or not key:
            continue
        merged[key] = merged[key] + ";" + value if key in merged else value
    return tuple(sorted(merged.items()))


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_float(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _sample(name, labels, value):
    if labels:
        body = ",".join('{0}="{1}"'.format(k, _escape_value(v)) for k, v in labels)
        return "{0}{{{1}}} {2}".format(name, body, format_float(value))
    return "{0} {1}".format(name, format_float(value))


def _render_point(name, kind, labels, point):
    if kind in ("gauge", "counter"):
        return [_sample(name, labels, point["value"])]
    out = []
    if kind == "histogram":
        cumulative = 0
        seen = set()
        for bound, count in sorted(zip(point["bounds"], point["buckets"])):
            cumulative += count
            if bound in seen:
                continue
            seen.add(bound)
            out.append(_sample(name + "_bucket", (*labels, ("le", format_float(bound))), cumulative))
        out.append(_sample(name + "_bucket", (*labels, ("le", "+Inf")), point["count"]))
    else:
        for quantile, value in point["quantiles"]:
            out.append(_sample(name, tuple(sorted((*labels, ("quantile", format_float(quantile))))), value))
    out.append(_sample(name + "_sum", labels, point["sum"]))
    out.append(_sample(name + "_count", labels, point["count"]))
    return out


# --------------------------------------------------------------------------- logs -> Loki

_LOKI_INDEX_LABELS = {
    "service.name": "service_name",
    "service.namespace": "service_namespace",
    "service.instance.id": "service_instance_id",
    "deployment.environment": "deployment_environment",
}


def logs_to_loki(request):
    """OTLP/JSON ExportLogsServiceRequest -> Loki push body (JSON)."""
    streams = {}
    for rl in _field(request, "resourceLogs") or []:
        resource = attributes((_field(rl, "resource") or {}).get("attributes"))
        labels = {"service_name": "unknown_service"}
        for key, label in _LOKI_INDEX_LABELS.items():
            if key in resource:
                labels[label] = as_string(resource[key])
        values = streams.setdefault(tuple(sorted(labels.items())), [])
        for sl in _field(rl, "scopeLogs") or []:
            for record in _field(sl, "logRecords") or []:
                ts = _integer(_field(record, "timeUnixNano")) or _integer(_field(record, "observedTimeUnixNano"))
                if not ts:
                    ts = time.time_ns()
                body = any_value(record.get("body"))
                line = body if isinstance(body, str) else as_string(body)
                values.append([str(ts), line])
    return {"streams": [{"stream": dict(labels), "values": values} for labels, values in streams.items() if values]}


# --------------------------------------------------------------------------- HTTP


class Collector:
    """State shared by the two listeners."""

    def __init__(self, store, traces_url=None, logs_url=None, verbose=False, forward_timeout=10.0):
        self.store = store
        self.traces_url = traces_url
        self.logs_url = logs_url
        self.verbose = verbose
        self.forward_timeout = forward_timeout
        self.lock = threading.Lock()
        self.received = {"metrics": 0, "traces": 0, "logs": 0}
        self.last_received = {}
        self.forwarded = {"traces": 0, "logs": 0}
        self.forward_errors = {"traces": 0, "logs": 0}
        self.last_forward_error = {}

    def note(self, signal_name):
        with self.lock:
            self.received[signal_name] += 1
            self.last_received[signal_name] = time.time()

    def forward(self, signal_name, url, payload):
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        req = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": SERVER_HEADER},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.forward_timeout) as resp:
                resp.read()
        except (urllib.error.URLError, OSError) as exc:
            with self.lock:
                self.forward_errors[signal_name] += 1
                self.last_forward_error[signal_name] = str(exc)
            log("{0} export to {1} failed: {2}".format(signal_name, url, exc))
            return
        with self.lock:
            self.forwarded[signal_name] += 1

    def status(self):
        with self.lock:
            doc = {
                "standin": STANDIN_NAME,
                "received": dict(self.received),
                "last_received": dict(self.last_received),
                "forwarded": dict(self.forwarded),
                "forward_errors": dict(self.forward_errors),
                "last_forward_error": dict(self.last_forward_error),
            }
        doc.update(self.store.status())
        return doc


def log(message):
    sys.stderr.write("{0} {1}: {2}\n".format(time.strftime("%Y-%m-%dT%H:%M:%S"), STANDIN_NAME, message))
    sys.stderr.flush()


class _Handler(BaseHTTPRequestHandler):
    server_version = SERVER_HEADER
    sys_version = ""
    protocol_version = "HTTP/1.1"
    collector = None  # set on the subclass

    def log_message(self, format, *args):  # BaseHTTPRequestHandler signature
        if self.collector.verbose:
            log("{0} {1}".format(self.address_string(), format % args))

    def _send(self, status, body=b"", content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status, doc):
        self._send(status, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"), "application/json")

    def _path(self):
        return self.path.split("?", 1)[0]


class OtlpHandler(_Handler):
    """The otlp receiver (HTTP)."""

    def do_GET(self):
        path = self._path()
        if path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/standin/status":
            self._send_json(200, self.collector.status())
        else:
            self._send(404, b"404 page not found\n")

    do_HEAD = do_GET

    def do_POST(self):
        signal_name = {"/v1/metrics": "metrics", "/v1/traces": "traces", "/v1/logs": "logs"}.get(self._path())
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if signal_name is None or (signal_name == "traces" and not self.collector.traces_url):
            self._send(404, b"404 page not found\n")
            return
        if signal_name == "logs" and not self.collector.logs_url:
            self._send(404, b"404 page not found\n")
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in ("application/x-protobuf", "application/json"):
            self._send(
                415, "415 unsupported media type, supported: [application/json, application/x-protobuf]".encode()
            )
            return
        binary = content_type == "application/x-protobuf"
        try:
            if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                body = gzip.decompress(body)
            if binary:
                request = decode_request(signal_name, body)
            else:
                request = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(request, dict):
                    raise DecodeError("the body is not a JSON object")
            self.collector.note(signal_name)
            if signal_name == "metrics":
                self.collector.store.ingest(request)
            elif signal_name == "traces":
                self.collector.forward("traces", self.collector.traces_url, request)
            else:
                self.collector.forward("logs", self.collector.logs_url, logs_to_loki(request))
        except (DecodeError, ValueError, OSError, EOFError, KeyError, TypeError, AttributeError) as exc:
            message = "failed to decode the {0} request: {1}".format(signal_name, exc)
            log(message)
            if binary:
                self._send(400, encode_status(3, message), "application/x-protobuf")
            else:
                self._send_json(400, {"code": 3, "message": message})
            return
        if binary:
            self._send(200, b"", "application/x-protobuf")
        else:
            self._send(200, b"{}", "application/json")


class PrometheusHandler(_Handler):
    """The prometheus exporter's endpoint."""

    def do_GET(self):
        path = self._path()
        if path == "/metrics":
            text = self.collector.store.render().encode("utf-8")
            self._send(200, text, "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/healthz":
            self._send(200, b"ok\n")
        else:
            self._send(404, b"404 page not found\n")

    do_HEAD = do_GET


def _split_address(value):
    host, _sep, port = value.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def set_process_title(title):
    """Name the process (comm, seen by ps/top) after the stand-in; best effort."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, title.encode("ascii")[:15], 0, 0, 0)  # PR_SET_NAME
    except (ImportError, OSError, AttributeError):
        pass


class Server:
    """Both listeners, each in a daemon thread (importable for tests)."""

    def __init__(self, listen="127.0.0.1:0", prometheus_listen="127.0.0.1:0", **kwargs):
        store = MetricStore(
            expiration=kwargs.pop("metric_expiration", 300.0),
            resource_to_telemetry=kwargs.pop("resource_to_telemetry", False),
        )
        self.collector = Collector(store, **kwargs)
        otlp = type("BoundOtlpHandler", (OtlpHandler,), {"collector": self.collector})
        prom = type("BoundPrometheusHandler", (PrometheusHandler,), {"collector": self.collector})
        self.otlp_server = ThreadingHTTPServer(_split_address(listen), otlp)
        self.prometheus_server = ThreadingHTTPServer(_split_address(prometheus_listen), prom)
        for server in (self.otlp_server, self.prometheus_server):
            server.daemon_threads = True
        self.threads = []

    @property
    def otlp_url(self):
        host, port = self.otlp_server.server_address[:2]
        return "http://{0}:{1}".format(host, port)

    @property
    def metrics_url(self):
        host, port = self.prometheus_server.server_address[:2]
        return "http://{0}:{1}/metrics".format(host, port)

    def start(self):
        for server in (self.otlp_server, self.prometheus_server):
            thread = threading.Thread(target=server.serve_forever, args=(0.2,), name=STANDIN_NAME, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        # shut both listeners down at once (each shutdown waits for its poll interval)
        stoppers = [threading.Thread(target=s.shutdown) for s in (self.otlp_server, self.prometheus_server)]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for server in (self.otlp_server, self.prometheus_server):
            server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="OpenTelemetry-collector stand-in (OTLP/HTTP -> Prometheus)")
    parser.add_argument("--listen", default="0.0.0.0:4318", help="OTLP/HTTP receiver address")
    parser.add_argument("--prometheus-listen", default="0.0.0.0:8889", help="Prometheus exporter address")
    parser.add_argument("--metric-expiration", type=float, default=300.0, help="seconds (exporter default 5m)")
    parser.add_argument("--resource-to-telemetry-conversion", action="store_true")
    parser.add_argument("--traces-url", help="OTLP/HTTP JSON traces endpoint to forward to (Tempo stand-in)")
    parser.add_argument("--logs-url", help="Loki push endpoint to forward logs to (Loki stand-in)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    set_process_title(STANDIN_NAME)
    server = Server(
        listen=args.listen,
        prometheus_listen=args.prometheus_listen,
        metric_expiration=args.metric_expiration,
        resource_to_telemetry=args.resource_to_telemetry_conversion,
        traces_url=args.traces_url,
        logs_url=args.logs_url,
        verbose=args.verbose,
    ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("otel-collector stand-in ready: otlp={0} prometheus={1}".format(server.otlp_url, server.metrics_url))
    sys.stdout.flush()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
