#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kafka_produce
short_description: Send numbered test messages to a Kafka topic
version_added: 0.1.0
description:
  - Replaces the runbook's C(producer.sh) - checks that the broker answers, then sends O(count)
    messages C(devsecops dojo message#1) ... C(#count).
  - Sends are batched - with O(interval=0) it does not wait for each message to be acknowledged,
    only for all of them at the end.
  - Fails naming the broker when it cannot be reached (the script's exit 2), and with the message
    number when a message cannot be delivered (the script's exit 3).
  - With O(otlp_endpoint), the run is one trace - a span C(send <topic>) of kind PRODUCER covers the
    sends up to the last acknowledgement, every message carries the W3C header C(traceparent) with the
    value C(00-<trace-id>-<span-id>-01) of that span, and the span is exported to the endpoint
    with OTLP/HTTP JSON once the messages are acknowledged. RV(trace_id) is what a trace search looks for;
    M(dojo.kafka_observability.kafka_consume) continues the trace from the header.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - dojo.kafka_observability.kafka.otlp
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Checks that the broker answers and the topic has partitions, and sends and exports nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
  action_group:
    description: Use C(group/dojo.kafka_observability.kafka) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - dojo.kafka_observability.kafka
options:
  topic:
    description:
      - Topic to send to. Whether a missing topic is created depends on the broker.
    type: str
    required: true
  count:
    description:
      - Number of messages.
    type: int
    default: 1
  message_template:
    description:
      - Value of each message. C({index}) is the message number (1-based, as in the runbook),
        C({topic}) the topic. Other braces are kept, so JSON values work.
      - (Ansible reserves the option name C(message).)
    type: str
    default: "devsecops dojo message#{index}"
  key:
    description:
      - Key of each message, a template like O(message_template). No key when omitted (the partitioner spreads
        the messages over the partitions).
    type: str
  headers:
    description:
      - Headers of each message; values are templates like O(message_template).
      - With O(otlp_endpoint) the module adds C(traceparent) itself; a C(traceparent) here is then an error.
    type: dict
    default: {}
  interval:
    description:
      - Seconds between two messages (the runbook's script sleeps 2).
      - With 0 the messages are sent as fast as the client batches them.
      - With more than 0 each message is acknowledged before the pause.
    type: float
    default: 0
  acks:
    description:
      - Acknowledgements the producer waits for - V(all) (every in-sync replica), V(1) (the leader) or V(0) (none;
        offsets are then unknown).
    type: str
    default: all
    choices: ["all", "1", "0"]
  delivery_timeout:
    description:
      - Seconds a message may take to be acknowledged before it counts as failed.
    type: float
    default: 30
  linger_ms:
    description:
      - Milliseconds the client waits to fill a batch.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Send 50 test messages (the runbook's ./producer.sh 50, without its 2 s pauses)
  dojo.kafka_observability.kafka_produce:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    count: 50
  register: produced

- name: Same pacing as the runbook's script
  dojo.kafka_observability.kafka_produce:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    count: 5
    interval: 2
    key: "dojo-{index}"
    headers:
      source: ansible

- name: Send 50 test messages as one trace, exported to the OpenTelemetry Collector
  dojo.kafka_observability.kafka_produce:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    count: 50
    otlp_endpoint: http://192.168.56.211:4318
    otlp_service_name: kafka-verification
  register: produced

- name: The trace to look for in Tempo
  ansible.builtin.debug:
    msg: "trace {{ produced.trace_id }}"
"""

RETURN = r"""
sent:
  description: Number of messages acknowledged (0 in check mode).
  returned: always
  type: int
  sample: 50
would_send:
  description: Number of messages check mode would have sent.
  returned: check mode
  type: int
  sample: 50
topic:
  description: The topic.
  returned: always
  type: str
  sample: notifications
partitions:
  description: Per partition, the messages acknowledged there and their first and last offsets.
  returned: success
  type: list
  elements: dict
  sample: [{partition: 0, count: 17, first_offset: 0, last_offset: 16}]
topic_partitions:
  description: Partition count of the topic before sending.
  returned: always
  type: int
  sample: 3
duration:
  description: Seconds from the first send to the last acknowledgement.
  returned: success
  type: float
  sample: 0.21
rate:
  description: Messages per second over RV(duration).
  returned: success
  type: float
  sample: 238.1
failed_index:
  description: Number (1-based) of the first message that could not be sent.
  returned: failure while sending
  type: int
  sample: 7
trace_id:
  description:
    - Trace id (32 lowercase hex digits) of the run's trace, in every message's C(traceparent) header and
      in the exported span.
  returned: when O(otlp_endpoint) is set, not in check mode
  type: str
  sample: 4bf92f3577b34da6a3ce929d0e0e4736
span_id:
  description: Span id (16 lowercase hex digits) of the C(send <topic>) span, the parent in the C(traceparent) header.
  returned: when O(otlp_endpoint) is set, not in check mode
  type: str
  sample: 00f067aa0ba902b7
traceparent:
  description: The C(traceparent) header every message carries.
  returned: when O(otlp_endpoint) is set, not in check mode
  type: str
  sample: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
exported_spans:
  description: Number of spans the OTLP endpoint accepted (1 when the export worked).
  returned: when O(otlp_endpoint) is set, not in check mode
  type: int
  sample: 1
kafka_python_version:
  description: Version of kafka-python that ran the module.
  returned: always
  type: str
  sample: 3.0.12
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.kafka_common import (
    KAFKA_COMMON_REQUIRED_IF,
    KAFKA_COMMON_REQUIRED_TOGETHER,
    KafkaDeadlineExceeded,
    KafkaModuleHelper,
    KafkaProducer,
    deadline,
    describe_topics,
    error_text,
    is_connection_error,
    kafka_argument_spec,
    render_template,
    summarize_deliveries,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.otlp import (
    OTLP_ARGUMENT_SPEC,
    SPAN_KIND_PRODUCER,
    TRACEPARENT_HEADER,
    OtlpError,
    endpoint_problem,
    export_spans,
    format_traceparent,
    make_span,
    messaging_attributes,
    new_span_id,
    new_trace_id,
    now_ns,
)


def build_messages(params, index, traceparent=None):
    """(value, key, headers) of message `index` as bytes; `traceparent` is added as the last header."""
    topic = params["topic"]
    value = render_template(params["message_template"], "message_template", index, topic).encode("utf-8")
    key = None
    if params["key"] is not None:
        key = render_template(params["key"], "key", index, topic).encode("utf-8")
    headers = [
        (str(name), render_template(str(v), "header {0}".format(name), index, topic).encode("utf-8"))
        for name, v in sorted((params["headers"] or {}).items())
    ]
    if traceparent:
        headers.append((TRACEPARENT_HEADER, traceparent.encode("ascii")))
    return value, key, headers


def producer_settings(params):
    acks = params["acks"]
    linger = params["linger_ms"]
    request_ms = int(float(params["request_timeout"]) * 1000)
    delivery_ms = int(float(params["delivery_timeout"]) * 1000)
    return dict(
        acks=acks if acks == "all" else int(acks),
        linger_ms=linger,
        # metadata waits (the reachability check) end with the request timeout
        max_block_ms=request_ms,
        # kafka-python 3.0 refuses delivery_timeout_ms <= linger_ms + request_timeout_ms
        delivery_timeout_ms=max(delivery_ms, linger + request_ms + 1),
        retries=3,
    )


def check_tracing(helper, params):
    """Fail before connecting when the OpenTelemetry options cannot work."""
    if params["otlp_timeout"] <= 0:
        helper.fail("otlp_timeout must be more than 0 seconds, got {0}".format(params["otlp_timeout"]))
    if not params["otlp_endpoint"]:
        return
    problem = endpoint_problem(params["otlp_endpoint"])
    if problem:
        helper.fail(problem)
    if any(str(name).lower() == TRACEPARENT_HEADER for name in params["headers"] or {}):
        helper.fail(
            "headers has a traceparent but otlp_endpoint is set: the module writes the traceparent of its own "
            "span into every message, so leave it out of headers"
        )


class RunTrace(object):
    """The run's trace: one PRODUCER span `send <topic>`, whose context every message carries."""

    def __init__(self, params):
        self.params = params
        self.trace_id = new_trace_id()
        self.span_id = new_span_id()
        self.traceparent = format_traceparent(self.trace_id, self.span_id)
        self.start_ns = now_ns()

    def ids(self):
        return dict(trace_id=self.trace_id, span_id=self.span_id, traceparent=self.traceparent)

    def export(self, message_count, error=None):
        """Export the span; returns the spans accepted, raises OtlpError."""
        params = self.params
        span = make_span(
            self.trace_id,
            self.span_id,
            "send {0}".format(params["topic"]),
            SPAN_KIND_PRODUCER,
            start_ns=self.start_ns,
            end_ns=now_ns(),
            attributes=messaging_attributes(
                params["topic"],
                "send",
                message_count,
                params["bootstrap_servers"],
                extra={"messaging.client.id": "dojo.kafka_observability"},
            ),
            error=error,
        )
        return export_spans(
            params["otlp_endpoint"],
            params["otlp_service_name"],
            [span],
            headers=params["otlp_headers"],
            timeout=params["otlp_timeout"],
        )


def check_options(helper, params):
    """Fail before connecting on options that cannot work."""
    helper.validate_topic(params["topic"])
    if params["count"] < 0:
        helper.fail("count must be 0 or more, got {0}".format(params["count"]))
    if params["interval"] < 0:
        helper.fail("interval must be 0 or more seconds, got {0}".format(params["interval"]))
    if params["delivery_timeout"] <= 0:
        helper.fail("delivery_timeout must be more than 0 seconds, got {0}".format(params["delivery_timeout"]))
    check_tracing(helper, params)
    try:
        # render the first message now: a bad template fails before anything is sent
        build_messages(params, 1)
    except ValueError as exc:
        helper.fail(str(exc))


def acknowledged(sent_futures):
    return sum(1 for dummy, f in sent_futures if f.is_done and f.succeeded())


class Sender(object):
    """One run: the reachability check (kcat -L), the sends, the deliveries, the trace."""

    def __init__(self, helper, params):
        self.helper = helper
        self.params = params
        self.topic = params["topic"]
        self.count = params["count"]
        self.producer = None
        self.trace = None
        self.sent_futures = []

    def topic_partitions(self):
        """The runbook's `kcat -L` before the loop: the broker answers and knows the topic."""
        self.producer = self.helper.connect(KafkaProducer, **producer_settings(self.params))
        try:
            with deadline(self.helper.timeout + 1, "fetching metadata"):
                partitions = self.producer.partitions_for(self.topic)
        except KafkaDeadlineExceeded as exc:
            self.helper.fail(self.helper.connection_failure(exc, "get metadata from"), sent=0, topic=self.topic)
        except Exception as exc:  # pylint: disable=broad-except
            missing_topic_failure(self.helper, self.topic, exc)
        return len(partitions or ())

    def fail_send(self, index, reason):
        """The one failure of a send: message #index could not be sent (and the span, when traced)."""
        acked = acknowledged(self.sent_futures)
        msg = "message #{0} to topic {1!r} could not be sent: {2} ({3} of {4} messages acknowledged)".format(
            index, self.topic, reason, acked, self.count
        )
        extra = {}
        if self.trace:
            extra = self.trace.ids()
            try:
                extra["exported_spans"] = self.trace.export(index, error=msg)
            except OtlpError as exc:
                extra["exported_spans"] = 0
                msg += "; the span of trace {0} could not be exported either: {1}".format(self.trace.trace_id, exc)
        self.helper.fail(msg, failed_index=index, sent=acked, topic=self.topic, **extra)

    def send_all(self):
        """Send the messages and wait for their acknowledgements; returns the seconds it took."""
        params = self.params
        self.trace = RunTrace(params) if params["otlp_endpoint"] else None
        traceparent = self.trace.traceparent if self.trace else None
        delivery_timeout = float(params["delivery_timeout"])
        started = time.monotonic()
        index = 0
        try:
            for index in range(1, self.count + 1):
                value, key, headers = build_messages(params, index, traceparent)
                future = self.producer.send(self.topic, value=value, key=key, headers=headers or None)
                self.sent_futures.append((index, future))
                if params["interval"] > 0:
                    # paced like the runbook: each message acknowledged before the pause
                    future.get(timeout=delivery_timeout)
                    if index < self.count:
                        time.sleep(params["interval"])
            with deadline(delivery_timeout + self.helper.timeout + 5, "waiting for acknowledgements"):
                self.producer.flush(timeout=delivery_timeout)
        except Exception as exc:  # pylint: disable=broad-except
            failed = next((i for i, f in self.sent_futures if f.is_done and f.failed()), None)
            if failed is None:
                failed = next((i for i, f in self.sent_futures if not f.is_done), index)
            reason = (
                "no answer within the delivery timeout" if isinstance(exc, KafkaDeadlineExceeded) else error_text(exc)
            )
            if is_connection_error(exc):
                reason += "; the broker stopped answering"
            self.fail_send(failed, reason)
        return time.monotonic() - started

    def deliveries(self):
        """(partition, offset) of every message; the first one not acknowledged fails the run."""
        delivery_timeout = float(self.params["delivery_timeout"])
        found = []
        for index, future in self.sent_futures:
            if not future.is_done or future.failed():
                reason = (
                    error_text(future.exception)
                    if future.is_done
                    else "not acknowledged within {0:g} s".format(delivery_timeout)
                )
                self.fail_send(index, reason)
            metadata = future.value
            found.append((metadata.partition, metadata.offset))
        return found

    def export(self, result):
        """Export the run's span into the result; a failed export fails the module (the messages were sent)."""
        result.update(self.trace.ids())
        try:
            result["exported_spans"] = self.trace.export(result["sent"])
        except OtlpError as exc:
            result["exported_spans"] = 0
            self.helper.fail(
                "the {0} messages were sent to topic {1!r} and acknowledged, but the span of their trace {2} "
                "was not exported: {3}".format(result["sent"], self.topic, self.trace.trace_id, exc),
                **result,
            )


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(
            topic=dict(type="str", required=True),
            count=dict(type="int", default=1),
            message_template=dict(type="str", default="devsecops dojo message#{index}"),
            key=dict(type="str", no_log=False),
            headers=dict(type="dict", default={}),
            interval=dict(type="float", default=0),
            acks=dict(type="str", default="all", choices=["all", "1", "0"]),
            delivery_timeout=dict(type="float", default=30),
            linger_ms=dict(type="int", default=5),
            **OTLP_ARGUMENT_SPEC,
        ),
        required_if=KAFKA_COMMON_REQUIRED_IF,
        required_together=KAFKA_COMMON_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    helper = KafkaModuleHelper(module)
    check_options(helper, params)
    sender = Sender(helper, params)
    topic, count = params["topic"], params["count"]
    topic_partitions = sender.topic_partitions()
    if module.check_mode:
        helper.exit(changed=count > 0, sent=0, would_send=count, topic=topic, topic_partitions=topic_partitions)
    duration = sender.send_all()
    deliveries = sender.deliveries()
    result = dict(
        changed=count > 0,
        sent=len(deliveries),
        topic=topic,
        topic_partitions=topic_partitions,
        partitions=summarize_deliveries(deliveries),
        duration=round(duration, 6),
        rate=round(len(deliveries) / duration, 1) if duration > 0 else None,
    )
    if sender.trace:
        sender.export(result)
    helper.exit(**result)


def missing_topic_failure(helper, topic, exc):
    """The producer got no partitions for the topic although the broker answered: say whether the
    topic exists (a broker with auto.create.topics.enable=false does not create it on demand)."""
    servers = ", ".join(helper.params["bootstrap_servers"])
    admin = helper.admin()
    topics = describe_topics(helper, admin)
    if topic not in topics:
        helper.fail(
            "topic {0!r} does not exist on Kafka broker(s) {1} and the broker did not create it on demand "
            "(auto.create.topics.enable=false): create it first with kafka_topic".format(topic, servers),
            sent=0,
            topic=topic,
        )
    helper.fail(
        "Kafka broker(s) {0} did not give the partitions of topic {1!r} within {2:g} s: {3} (the topic exists; "
        "its partitions may have no leader)".format(servers, topic, helper.timeout, error_text(exc)),
        sent=0,
        topic=topic,
    )


if __name__ == "__main__":
    main()
