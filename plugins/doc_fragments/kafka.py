# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options of every kafka_* module (argument spec: module_utils/kafka_common.py).
    DOCUMENTATION = r"""
options:
  bootstrap_servers:
    description:
      - Kafka brokers to contact first, as C(host:port).
      - The client learns the other brokers from the first one that answers.
    type: list
    elements: str
    default: [localhost:9092]
  security_protocol:
    description:
      - Protocol of the broker's listener.
      - C(SASL_PLAINTEXT) and C(SASL_SSL) need O(sasl_mechanism), O(sasl_username) and O(sasl_password).
      - The TLS files are only used with C(SSL) and C(SASL_SSL).
    type: str
    default: PLAINTEXT
    choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
  sasl_mechanism:
    description:
      - SASL mechanism when O(security_protocol) is C(SASL_PLAINTEXT) or C(SASL_SSL).
    type: str
    choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512]
  sasl_username:
    description:
      - SASL user name.
    type: str
  sasl_password:
    description:
      - SASL password. Never logged nor returned.
    type: str
  ssl_cafile:
    description:
      - CA bundle (PEM) that signs the broker's certificate.
    type: path
  ssl_certfile:
    description:
      - Client certificate (PEM) for mutual TLS. Requires O(ssl_keyfile).
    type: path
  ssl_keyfile:
    description:
      - Private key (PEM) of O(ssl_certfile).
    type: path
  request_timeout:
    description:
      - Seconds to wait for the broker to answer one request, and to connect at all.
      - An unreachable broker makes the module fail after about this long, naming the broker.
    type: float
    default: 30
requirements:
  - kafka-python >= 2.0.2 on the host that runs the module (3.0.x tested too; Debian's
    C(python3-kafka) 2.0.2 works, PyPI's kafka-python 2.0.2 does not import on Python 3.12+)
notes:
  - Runs on the managed host, which must reach the brokers (like C(kcat) in the runbook).
"""

    # The OpenTelemetry options of kafka_produce, kafka_consume and kafka_probe (argument spec: module_utils/otlp.py).
    OTLP = r"""
options:
  otlp_endpoint:
    description:
      - OTLP/HTTP endpoint of an OpenTelemetry Collector (or of any OTLP/HTTP receiver, such as Tempo's), for
        example C(http://192.168.56.211:4318).
      - The spans are sent with C(POST <otlp_endpoint>/v1/traces), C(Content-Type application/json), in OTLP's
        JSON encoding. An endpoint that already ends with C(/v1/traces) is used as it is.
      - When omitted, no trace context is written or continued and nothing is exported.
      - An export that fails (connection refused, HTTP 4xx/5xx, no answer within O(otlp_timeout), spans
        rejected) fails M(dojo.kafka_observability.kafka_produce) and M(dojo.kafka_observability.kafka_consume)
        with a message naming the endpoint, after the messages were sent or read;
        M(dojo.kafka_observability.kafka_probe) does not fail - it returns C(trace_exported=false) and the
        reason in C(trace_error).
    type: str
  otlp_service_name:
    description:
      - Resource attribute C(service.name) of the exported spans (what a trace search filters on).
    type: str
    default: kafka-verification
  otlp_headers:
    description:
      - HTTP headers of the export requests, for example C(Authorization) with a token. Never logged nor returned.
    type: dict
    default: {}
  otlp_timeout:
    description:
      - Seconds to wait for the OTLP endpoint to answer an export request.
    type: float
    default: 10
notes:
  - Trace context is the W3C C(traceparent) message header (C(00-<trace-id>-<span-id>-01)), as the
    OpenTelemetry Kafka instrumentations of Java, Python and Go write and read it. Span names and
    attributes follow the OpenTelemetry messaging semantic conventions (C(messaging.system=kafka),
    C(messaging.destination.name), C(messaging.operation.type), C(messaging.batch.message_count)).
"""
