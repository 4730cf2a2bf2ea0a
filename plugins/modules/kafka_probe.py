#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kafka_probe
short_description: Probe every partition of a Kafka topic end to end - availability and latency
version_added: 0.2.0
description:
  - A canary in the manner of LinkedIn's Xinfra Monitor and Strimzi Canary - sends O(count) messages
    round-robin to every partition of the topic B(explicitly) (not where a partitioner puts them), reads
    each one back, and reports per partition and overall the end-to-end latency and the availability.
    A partition whose leader is missing or broken shows as a partition whose messages do not come back.
  - Before the first message is sent, a consumer (no consumer group, nothing committed) is assigned to every
    partition at its end offset and polls in a thread of its own. It reads only what follows those offsets
    and keeps only this run's messages (the header C(dojo-probe) carries the run's trace id and the message
    number); it never reads the topic from its beginning. A partition without a leader has no end offset
    to start at - it is assigned at the offset of its first acknowledged message, if any.
  - The end-to-end latency of a message is the time it was consumed minus the time it was handed to the
    producer, both read on this host's monotonic clock (no broker timestamps, no clock skew). Percentiles
    are nearest-rank - the p99 of 17 messages is the slowest of them.
  - The availability is the number of messages acknowledged by the broker (C(acks=all)) and read back,
    divided by the number sent - per partition and overall.
  - Fails, with every figure returned, when a partition's availability is below O(min_availability) or
    its p99 latency above O(max_latency_p99_ms), naming the partitions and why their messages did not come
    back (for example no leader, or not acknowledged within O(timeout)).
  - Every message carries the W3C header C(traceparent) of the run's span C(send <topic>) (kind PRODUCER).
    With O(otlp_endpoint) that span and one span C(process <topic>) per partition read (kind CONSUMER,
    children of the producer span) are exported with OTLP/HTTP JSON. An export that fails does B(not) fail
    the probe - the messages' round trip is what it proves - it returns RV(trace_exported=false) and
    RV(trace_error) instead, and warns.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - dojo.kafka_observability.kafka.otlp
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Checks that the broker answers and that the topic exists (and returns its partitions and their
      leaders); sends, reads and exports nothing.
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
      - Topic to probe. It must exist - the probe never creates it (create it with
        M(dojo.kafka_observability.kafka_topic)).
    type: str
    required: true
  count:
    description:
      - Number of messages, spread round-robin over the partitions (message 1 to partition 0, message 2 to
        partition 1, ...).
      - At least one message goes to every partition - a smaller count is raised to the partition count.
    type: int
    default: 50
  message_template:
    description:
      - Value of each message. C({index}) is the message number (1-based, as in the runbook),
        C({topic}) the topic. Other braces are kept, so JSON values work.
    type: str
    default: "devsecops dojo message#{index}"
  key:
    description:
      - Key of each message, a template like O(message_template) (for example a run id followed by
        C(-{index})). No key when omitted. The key does not choose the partition - the probe does.
    type: str
  timeout:
    description:
      - Seconds, from the first send, that the messages have to be acknowledged and read back. A message that
        is not is counted as lost.
      - A healthy topic ends the probe long before - it stops as soon as every message is back - so this is
        what a broken partition costs.
    type: float
    default: 30
  max_latency_p99_ms:
    description:
      - Fail when the p99 end-to-end latency of a partition is above this many milliseconds (a partition with
        no message read back fails it too).
      - No latency threshold when omitted.
    type: float
  min_availability:
    description:
      - Fail when the availability (acknowledged and read back / sent, from 0 to 1) of a partition is below this.
      - The default 1 wants every message back; 0 only reports.
    type: float
    default: 1
notes:
  - The messages are sent with C(acks=all) and without pauses (the client batches them per partition), so
    the latency of a message includes the time it waited behind the others of its partition.
  - The producer, the consumer and the clock are on the host that runs the module - the latency measured
    includes the network between that host and the brokers, twice.
seealso:
  - module: dojo.kafka_observability.kafka_produce
  - module: dojo.kafka_observability.kafka_consume
  - name: Xinfra Monitor (formerly Kafka Monitor)
    description: LinkedIn's Kafka canary, whose produce-consume end-to-end latency and availability this follows.
    link: https://github.com/linkedin/kafka-monitor
"""

EXAMPLES = r"""
- name: Probe every partition of the notifications topic with the runbook's 50 messages
  dojo.kafka_observability.kafka_probe:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    key: "{{ run_id }}-{index}"
    max_latency_p99_ms: 500
  register: probe

- name: The figures
  ansible.builtin.debug:
    msg: >-
      availability {{ probe.availability }}, p99 {{ probe.latency_ms.p99 }} ms,
      per partition {{ probe.partitions | map(attribute='latency_ms.p99') | list }}

- name: Probe and trace; a collector that does not answer does not fail the probe
  dojo.kafka_observability.kafka_probe:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    otlp_endpoint: http://192.168.56.211:4318
  register: probe

- name: The trace must have been exported (a check of its own, apart from the Kafka checks)
  ansible.builtin.assert:
    that: probe.trace_exported
    fail_msg: "{{ probe.trace_error | default('') }}"

- name: Only report, never fail on what was found
  dojo.kafka_observability.kafka_probe:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    min_availability: 0
    timeout: 10
"""

RETURN = r"""
topic:
  description: The topic.
  returned: always
  type: str
  sample: notifications
topic_partitions:
  description: Number of partitions of the topic.
  returned: success or threshold failure
  type: int
  sample: 3
would_send:
  description: Number of messages a real run would send.
  returned: check mode
  type: int
  sample: 50
sent:
  description: Number of messages handed to the producer (0 in check mode).
  returned: always
  type: int
  sample: 50
acknowledged:
  description: Number of messages the broker acknowledged.
  returned: success or threshold failure
  type: int
  sample: 50
read_back:
  description: Number of messages acknowledged and read back.
  returned: success or threshold failure
  type: int
  sample: 50
lost:
  description: RV(sent) minus RV(read_back).
  returned: success or threshold failure
  type: int
  sample: 0
availability:
  description: RV(read_back) / RV(sent), from 0 to 1 (4 decimals).
  returned: success or threshold failure
  type: float
  sample: 1.0
latency_ms:
  description:
    - End-to-end latency (sent to consumed) of the messages read back, in milliseconds, over all partitions.
    - The values are null when no message was read back.
  returned: success or threshold failure
  type: dict
  contains:
    p50:
      description: Median (nearest rank).
      type: float
    p99:
      description: 99th percentile (nearest rank).
      type: float
    max:
      description: Slowest message.
      type: float
  sample: {p50: 2.41, p99: 6.903, max: 7.12}
ack_latency_ms:
  description: Time from send to the broker's acknowledgement of the acknowledged messages, like RV(latency_ms).
  returned: success or threshold failure
  type: dict
  sample: {p50: 1.98, p99: 5.6, max: 5.71}
partitions:
  description:
    - One entry per partition of the topic, ordered by partition (in check mode only the metadata keys
      C(partition), C(leader), C(replicas), C(isr) and C(offline_replicas)).
  returned: always except on failures before the topic was found
  type: list
  elements: dict
  contains:
    partition:
      description: Partition number.
      type: int
    leader:
      description: Broker id of the partition's leader before sending, -1 when it had none.
      type: int
    replicas:
      description: Broker ids of its replicas.
      type: list
      elements: int
    isr:
      description: Broker ids of its in-sync replicas.
      type: list
      elements: int
    offline_replicas:
      description: Broker ids of its replicas that are offline.
      type: list
      elements: int
    start_offset:
      description:
        - Offset the consumer started at - the partition's end offset before sending, or, for a partition that
          had no leader then, the offset of its first acknowledged message; null when there was neither.
      type: int
    first_offset:
      description: Offset of the first acknowledged message (null when none was).
      type: int
    last_offset:
      description: Offset of the last acknowledged message (null when none was).
      type: int
    sent:
      description: Messages sent to the partition.
      type: int
    acknowledged:
      description: Messages acknowledged.
      type: int
    read_back:
      description: Messages acknowledged and read back.
      type: int
    availability:
      description: RV(partitions[].read_back) / RV(partitions[].sent).
      type: float
    latency_ms:
      description: End-to-end latency p50, p99 and max in milliseconds (null values when none was read back).
      type: dict
    ack_latency_ms:
      description: Acknowledgement latency p50, p99 and max in milliseconds.
      type: dict
    error:
      description: Why messages of this partition did not come back, null when all did.
      type: str
  sample:
    - partition: 0
      leader: 1
      replicas: [1]
      isr: [1]
      offline_replicas: []
      start_offset: 120
      first_offset: 120
      last_offset: 136
      sent: 17
      acknowledged: 17
      read_back: 17
      availability: 1.0
      latency_ms: {p50: 2.41, p99: 6.903, max: 6.903}
      ack_latency_ms: {p50: 1.98, p99: 5.6, max: 5.6}
      error: null
failed_partitions:
  description: The partitions that broke a threshold (O(min_availability), O(max_latency_p99_ms)); empty on success.
  returned: success or threshold failure
  type: list
  elements: int
  sample: [2]
problems:
  description: One line per threshold broken, naming the partitions; empty on success.
  returned: success or threshold failure
  type: list
  elements: str
  sample: ["availability below min_availability 1 on partition 2 (0 of 17 read back: ...)"]
duration:
  description: Seconds from the first send until every message was back or O(timeout) passed.
  returned: success or threshold failure
  type: float
  sample: 0.052
rate:
  description: Messages probed per second, RV(sent) / RV(duration).
  returned: success or threshold failure
  type: float
  sample: 961.5
trace_id:
  description:
    - Trace id (32 lowercase hex digits) of the run, in every message's C(traceparent) and C(dojo-probe) headers.
  returned: success or threshold failure
  type: str
  sample: 4bf92f3577b34da6a3ce929d0e0e4736
span_id:
  description: Span id (16 lowercase hex digits) of the C(send <topic>) span, the parent in the C(traceparent) header.
  returned: success or threshold failure
  type: str
  sample: 00f067aa0ba902b7
traceparent:
  description: The C(traceparent) header every message carries.
  returned: success or threshold failure
  type: str
  sample: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
trace_exported:
  description: Whether the OTLP endpoint accepted the run's spans.
  returned: when O(otlp_endpoint) is set, not in check mode
  type: bool
  sample: true
exported_spans:
  description: Number of spans the OTLP endpoint accepted (the producer span and one per partition read).
  returned: when O(otlp_endpoint) is set, not in check mode
  type: int
  sample: 4
trace_error:
  description: Why the spans were not exported, one sentence naming the endpoint.
  returned: when the export failed
  type: str
  sample: >-
    the spans of trace 4bf92f3577b34da6a3ce929d0e0e4736 were not exported: the OTLP endpoint
    http://192.168.56.211:4318/v1/traces could not be reached: connection refused (nothing listens there:
    is the collector running, is the port right?)
kafka_python_version:
  description: Version of kafka-python that ran the module.
  returned: always
  type: str
  sample: 3.0.12
"""

import math
import threading
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.kafka_common import (
    KAFKA_COMMON_REQUIRED_IF,
    KAFKA_COMMON_REQUIRED_TOGETHER,
    KafkaConsumer,
    KafkaModuleHelper,
    KafkaProducer,
    TopicPartition,
    deadline,
    describe_servers,
    describe_topics,
    error_text,
    is_connection_error,
    kafka_argument_spec,
    render_template,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.otlp import (
    OTLP_ARGUMENT_SPEC,
    SPAN_KIND_CONSUMER,
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
)

# the header that marks this run's messages: "<trace id>:<message number>"
PROBE_HEADER = "dojo-probe"
CLIENT_ID = "dojo.kafka_observability"
# the reader's poll returns at least this often (to see a stop or a new partition)
POLL_MS = 50
# an empty fetch is answered after this long; a fetch waiting at the broker is answered as soon as data arrives
FETCH_MAX_WAIT_MS = 100


# ------------------------------------------------------------------ figures
def percentile(ascending, pct):
    """Nearest-rank percentile of an ascending list: a value that was measured (None when empty)."""
    if not ascending:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ascending)))
    return ascending[rank - 1]


def latency_summary(values_ms):
    """{p50, p99, max} of latencies in milliseconds (None values when there are none)."""
    ascending = sorted(values_ms)
    if not ascending:
        return dict(p50=None, p99=None, max=None)
    return dict(
        p50=round(percentile(ascending, 50), 3), p99=round(percentile(ascending, 99), 3), max=round(ascending[-1], 3)
    )


def plan(count, partitions):
    """[(message number, partition)]: round-robin over the partitions, at least one message each."""
    total = max(count, len(partitions))
    return [(index, partitions[(index - 1) % len(partitions)]) for index in range(1, total + 1)]


def join_ints(values):
    return ", ".join(str(v) for v in values)


def _broken(what, limit, broken, describe):
    """One line for a threshold broken on the partitions `broken`, each described by describe(p)."""
    return "{0} {1:g} on partition{2} {3}".format(
        what, limit, "s" if len(broken) > 1 else "", ", ".join(describe(p) for p in broken)
    )


def _p99(p):
    return "nothing read back" if p["latency_ms"]["p99"] is None else "{0:g} ms".format(p["latency_ms"]["p99"])


def threshold_problems(partitions, min_availability, max_latency_p99_ms):
    """(failed partition numbers, one line per threshold broken) from the per-partition results."""
    checks = [
        (
            "availability below min_availability",
            min_availability,
            [p for p in partitions if p["availability"] < min_availability],
            lambda p: "{0} ({1} of {2} read back: {3})".format(
                p["partition"], p["read_back"], p["sent"], p["error"] or "lost"
            ),
        )
    ]
    if max_latency_p99_ms is not None:
        checks.append(
            (
                "end-to-end latency p99 above max_latency_p99_ms",
                max_latency_p99_ms,
                [
                    p
                    for p in partitions
                    if p["latency_ms"]["p99"] is None or p["latency_ms"]["p99"] > max_latency_p99_ms
                ],
                lambda p: "{0} ({1})".format(p["partition"], _p99(p)),
            )
        )
    problems = [_broken(what, limit, broken, describe) for what, limit, broken, describe in checks if broken]
    failed = {p["partition"] for _what, _limit, broken, _describe in checks for p in broken}
    return sorted(failed), problems


# ------------------------------------------------------------------ one message
class Message(object):
    """One probe message: where it went and when (monotonic seconds) it was sent, acknowledged, read."""

    __slots__ = ("acked", "error", "index", "offset", "partition", "read", "sent", "settled")

    def __init__(self, index, partition):
        self.index = index
        self.partition = partition
        self.sent = None
        self.acked = None
        self.offset = None
        self.error = None
        self.read = None
        self.settled = False

    @property
    def resolved(self):
        return self.error is not None or (self.acked is not None and self.read is not None)

    @property
    def back(self):
        return self.error is None and self.acked is not None and self.read is not None


# ------------------------------------------------------------------ the probe
class Probe(object):
    """One run: a reader thread started at the end offsets, the sends, the wait, the figures, the spans."""

    def __init__(self, helper, params, topic):
        self.helper = helper
        self.params = params
        self.topic = params["topic"]
        self.meta = dict((p["partition"], p) for p in topic["partitions"])
        self.partitions = sorted(self.meta)
        self.messages = [Message(i, p) for i, p in plan(params["count"], self.partitions)]
        self.by_index = dict((m.index, m) for m in self.messages)
        self.unresolved = len(self.messages)
        self.trace_id = new_trace_id()
        self.span_id = new_span_id()
        self.traceparent = format_traceparent(self.trace_id, self.span_id)
        self.lock = threading.Condition()
        self.start_offsets = {}
        self.late = set()  # partitions without an end offset: assigned at their first acknowledged offset
        self.late_requests = {}  # partition -> offset, for the reader thread
        self.reader_error = None
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.finished = False
        self.consumer = self.producer = self.thread = None
        self.started = self.ended = None
        # the wall clock at a monotonic instant: span times from monotonic readings
        self.origin = (time.monotonic(), time.time_ns())

    def leader(self, partition):
        leader = self.meta[partition]["leader"]
        return -1 if leader is None else leader

    def wall_ns(self, monotonic):
        return self.origin[1] + int((monotonic - self.origin[0]) * 1e9)

    # -------------------------------------------------------------- reader
    def open_reader(self):
        """The consumer, assigned to every partition with a leader at its end offset, polling in a thread."""
        self.consumer = self.helper.connect(
            KafkaConsumer,
            group_id=None,
            enable_auto_commit=False,
            # positions are always set; an invalid one is never answered with the whole partition
            auto_offset_reset="latest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            allow_auto_create_topics=False,
            max_poll_records=500,
        )
        led = [TopicPartition(self.topic, p) for p in self.partitions if self.leader(p) >= 0]
        ends = {}
        if led:
            try:
                with deadline(self.helper.timeout + 1, "reading end offsets"):
                    ends = self.consumer.end_offsets(led) or {}
            except Exception as exc:  # pylint: disable=broad-except
                # a leader that does not answer: its partitions start where their first message lands
                self.module_debug("end offsets unknown ({0}): partitions assigned at acknowledged offsets".format(exc))
        known = [tp for tp in led if ends.get(tp) is not None]
        for tp in known:
            self.start_offsets[tp.partition] = ends[tp]
        self.late = set(p for p in self.partitions if p not in self.start_offsets)
        if known:
            self.consumer.assign(known)
            for tp in known:
                self.consumer.seek(tp, ends[tp])
        self.thread = threading.Thread(target=self._read, name="kafka-probe-reader")
        self.thread.daemon = True
        self.thread.start()
        # the first fetch is on its way before the first message is
        self.ready.wait(self.helper.timeout)

    def module_debug(self, text):
        self.helper.module.debug(text)

    def _read(self):
        assigned = set(self.start_offsets)
        try:
            while not self.stopping.is_set():
                with self.lock:
                    requests, self.late_requests = self.late_requests, {}
                if requests:
                    assigned.update(requests)
                    self.consumer.assign([TopicPartition(self.topic, p) for p in sorted(assigned)])
                    for partition, offset in requests.items():
                        self.consumer.seek(TopicPartition(self.topic, partition), offset)
                if not assigned:
                    self.ready.set()
                    with self.lock:
                        self.lock.wait(POLL_MS / 1000.0)
                    continue
                batch = self.consumer.poll(timeout_ms=POLL_MS)
                now = time.monotonic()
                self.ready.set()
                if batch:
                    with self.lock:
                        for records in batch.values():
                            for record in records:
                                self._take(record, now)
        except Exception as exc:  # pylint: disable=broad-except
            with self.lock:
                self.reader_error = exc
                self.lock.notify_all()
        finally:
            self.ready.set()

    def _take(self, record, now):
        """Note the time a message of this run was read (others on the topic are left alone)."""
        marker = next((v for k, v in (record.headers or []) if k == PROBE_HEADER), None)
        if not marker or self.finished:
            return
        run, _sep, index = marker.decode("ascii", "replace").partition(":")
        message = self.by_index.get(int(index)) if run == self.trace_id and index.isdigit() else None
        if message is not None and message.read is None and record.partition == message.partition:
            message.read = now
            self._settle(message)

    def _settle(self, message):
        """Count a message that is back or lost (under the lock); wake the main thread when none is left."""
        if message.settled or not message.resolved:
            return
        message.settled = True
        self.unresolved -= 1
        if not self.unresolved:
            self.lock.notify_all()

    # -------------------------------------------------------------- sends
    def open_writer(self):
        request_ms = int(self.helper.timeout * 1000)
        timeout_ms = int(self.params["timeout"] * 1000)
        producer_request_ms = max(1, min(request_ms, timeout_ms - 1))
        self.producer = self.helper.connect(
            KafkaProducer,
            acks="all",
            linger_ms=0,
            # no InitProducerId round trip before the first message (a duplicate after a retry is read once)
            enable_idempotence=False,
            max_block_ms=request_ms,
            request_timeout_ms=producer_request_ms,
            # the client gives up on a message when the probe does (kafka-python 3.0 wants it above
            # linger_ms + request_timeout_ms; 2.0.2 expires a batch after request_timeout_ms)
            delivery_timeout_ms=max(timeout_ms, producer_request_ms + 1),
        )
        # the topic's metadata before the clock starts: the first send would otherwise wait for it (~100 ms)
        self.helper.call(
            "fetching the partitions of topic {0!r}".format(self.topic), self.producer.partitions_for, self.topic
        )

    def send_all(self):
        trace_header = (TRACEPARENT_HEADER, self.traceparent.encode("ascii"))
        # every message is built before the clock starts: the loop below only sends
        built = []
        for message in self.messages:
            value, key = self.render(message.index)
            marker = (PROBE_HEADER, "{0}:{1}".format(self.trace_id, message.index).encode("ascii"))
            built.append((message, value, key, [marker, trace_header]))
        self.started = time.monotonic()
        for position, (message, value, key, headers) in enumerate(built):
            message.sent = time.monotonic()
            try:
                future = self.producer.send(
                    self.topic, value=value, key=key, headers=headers, partition=message.partition
                )
            except Exception as exc:  # pylint: disable=broad-except
                self._failed(message, exc)
                if is_connection_error(exc):
                    # the broker is gone: every later send would wait as long again
                    for rest in self.messages[position + 1 :]:
                        rest.sent = time.monotonic()
                        self._failed(rest, exc)
                    break
                continue
            future.add_callback(self._acked, message)
            future.add_errback(self._failed, message)

    def render(self, index):
        value = render_template(self.params["message_template"], "message_template", index, self.topic)
        key = None
        if self.params["key"] is not None:
            key = render_template(self.params["key"], "key", index, self.topic).encode("utf-8")
        return value.encode("utf-8"), key

    def _acked(self, message, metadata):
        now = time.monotonic()
        with self.lock:
            if self.finished:
                return
            message.acked = now
            message.offset = metadata.offset
            partition = message.partition
            if partition in self.late and partition not in self.start_offsets:
                self.start_offsets[partition] = metadata.offset
                self.late_requests[partition] = metadata.offset
                self.lock.notify_all()  # the reader, waiting for a partition to read
            self._settle(message)

    def _failed(self, message, exc):
        with self.lock:
            if self.finished:
                return
            message.error = error_text(exc)
            self._settle(message)

    # -------------------------------------------------------------- run
    def run(self):
        self.open_reader()
        self.open_writer()
        self.send_all()
        limit = self.started + self.params["timeout"]
        with self.lock:
            while self.reader_error is None and self.unresolved:
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    break
                self.lock.wait(min(remaining, 1.0))
            self.finished = True
            self.ended = time.monotonic()
        self.stopping.set()
        self.thread.join(5)
        # what the producer still holds belongs to a partition that did not answer: dropped
        self.helper.close_client(self.producer, 0)
        if not self.thread.is_alive():
            self.helper.close_client(self.consumer)

    # -------------------------------------------------------------- figures
    def partition_result(self, partition):
        meta = self.meta[partition]
        sent = [m for m in self.messages if m.partition == partition]
        acked = [m for m in sent if m.error is None and m.acked is not None]
        back = [m for m in acked if m.read is not None]
        offsets = [m.offset for m in acked if m.offset is not None and m.offset >= 0]
        return dict(
            partition=partition,
            leader=self.leader(partition),
            replicas=meta["replicas"],
            isr=meta["isrs"],
            offline_replicas=meta["offline_replicas"],
            start_offset=self.start_offsets.get(partition),
            first_offset=min(offsets) if offsets else None,
            last_offset=max(offsets) if offsets else None,
            sent=len(sent),
            acknowledged=len(acked),
            read_back=len(back),
            availability=round(float(len(back)) / len(sent), 4) if sent else None,
            latency_ms=latency_summary([(m.read - m.sent) * 1000.0 for m in back]),
            ack_latency_ms=latency_summary([(m.acked - m.sent) * 1000.0 for m in acked]),
            error=self.partition_error(partition, sent, acked, back),
        )

    def partition_error(self, partition, sent, acked, back):
        """Why messages of the partition did not come back (None when all did)."""
        if len(back) == len(sent):
            return None
        reasons = []
        meta = self.meta[partition]
        if self.leader(partition) < 0:
            reasons.append(
                "no leader before sending (replicas {0}{1})".format(
                    join_ints(meta["replicas"]) or "none",
                    ", offline {0}".format(join_ints(meta["offline_replicas"])) if meta["offline_replicas"] else "",
                )
            )
        errors = [m.error for m in sent if m.error is not None]
        if errors:
            reasons.append("{0} not acknowledged: {1}".format(len(errors), errors[0]))
        pending = [m for m in sent if m.error is None and m.acked is None]
        if pending:
            reasons.append("{0} not acknowledged within {1:g} s".format(len(pending), self.params["timeout"]))
        unread = len(acked) - len(back)
        if unread:
            reasons.append(
                "{0} acknowledged but not read back within {1:g} s{2}".format(
                    unread,
                    self.params["timeout"],
                    " (the consumer failed: {0})".format(error_text(self.reader_error)) if self.reader_error else "",
                )
            )
        return "; ".join(reasons)

    def result(self):
        partitions = [self.partition_result(p) for p in self.partitions]
        acked = [m for m in self.messages if m.error is None and m.acked is not None]
        back = [m for m in acked if m.read is not None]
        duration = (self.ended or time.monotonic()) - self.started
        failed, problems = threshold_problems(
            partitions, self.params["min_availability"], self.params["max_latency_p99_ms"]
        )
        return dict(
            changed=True,
            topic=self.topic,
            topic_partitions=len(self.partitions),
            sent=len(self.messages),
            acknowledged=len(acked),
            read_back=len(back),
            lost=len(self.messages) - len(back),
            availability=round(float(len(back)) / len(self.messages), 4),
            latency_ms=latency_summary([(m.read - m.sent) * 1000.0 for m in back]),
            ack_latency_ms=latency_summary([(m.acked - m.sent) * 1000.0 for m in acked]),
            partitions=partitions,
            failed_partitions=failed,
            problems=problems,
            duration=round(duration, 6),
            rate=round(len(self.messages) / duration, 1) if duration > 0 else None,
            trace_id=self.trace_id,
            span_id=self.span_id,
            traceparent=self.traceparent,
        )

    # -------------------------------------------------------------- trace
    def spans(self, result):
        """The producer span `send <topic>` and, per partition read, a consumer span `process <topic>` (its child)."""
        spans = [self.producer_span(result)]
        for entry in result["partitions"]:
            reads = [m.read for m in self.messages if m.partition == entry["partition"] and m.back]
            if reads:
                spans.append(self.consumer_span(entry, reads))
        return spans

    def producer_span(self, result):
        """From the first send to the last acknowledgement; an error naming the partitions of what was not."""
        unacked = [m for m in self.messages if m.error is not None or m.acked is None]
        acks = [m.acked for m in self.messages if m.acked is not None] or [self.ended]
        error = None
        if unacked:
            partitions = sorted(set(m.partition for m in unacked))
            error = "{0} of {1} messages not acknowledged (partition{2} {3})".format(
                len(unacked), len(self.messages), "s" if len(partitions) > 1 else "", join_ints(partitions)
            )
        attributes = messaging_attributes(
            self.topic,
            "send",
            len(self.messages),
            self.params["bootstrap_servers"],
            extra={"messaging.client.id": CLIENT_ID, "dojo.probe.availability": result["availability"]},
        )
        return make_span(
            self.trace_id,
            self.span_id,
            "send {0}".format(self.topic),
            SPAN_KIND_PRODUCER,
            start_ns=self.wall_ns(self.started),
            end_ns=self.wall_ns(max(acks)),
            attributes=attributes,
            error=error,
        )

    def consumer_span(self, entry, reads):
        """From the first to the last message of the partition read back, child of the producer span."""
        attributes = messaging_attributes(
            self.topic,
            "process",
            len(reads),
            self.params["bootstrap_servers"],
            extra={
                "messaging.client.id": CLIENT_ID,
                "messaging.destination.partition.id": str(entry["partition"]),
                "dojo.probe.latency_p99_ms": entry["latency_ms"]["p99"],
            },
        )
        return make_span(
            self.trace_id,
            new_span_id(),
            "process {0}".format(self.topic),
            SPAN_KIND_CONSUMER,
            start_ns=self.wall_ns(min(reads)),
            end_ns=self.wall_ns(max(reads)),
            attributes=attributes,
            parent_span_id=self.span_id,
        )

    def export(self, result):
        """Export the spans into the result; a failed export is reported, never raised."""
        params = self.params
        spans = self.spans(result)
        try:
            result["exported_spans"] = export_spans(
                params["otlp_endpoint"],
                params["otlp_service_name"],
                spans,
                headers=params["otlp_headers"],
                timeout=params["otlp_timeout"],
            )
            result["trace_exported"] = True
        except OtlpError as exc:
            result["exported_spans"] = 0
            result["trace_exported"] = False
            result["trace_error"] = "the spans of trace {0} were not exported: {1}".format(self.trace_id, exc)
            self.helper.module.warn(result["trace_error"])


# ------------------------------------------------------------------ module
def check_options(helper, params):
    """Fail before connecting on options that cannot work."""
    helper.validate_topic(params["topic"])
    if params["count"] < 1:
        helper.fail("count must be at least 1, got {0}".format(params["count"]), sent=0)
    if params["timeout"] <= 0:
        helper.fail("timeout must be more than 0 seconds, got {0}".format(params["timeout"]), sent=0)
    if not 0 <= params["min_availability"] <= 1:
        helper.fail("min_availability must be between 0 and 1, got {0}".format(params["min_availability"]), sent=0)
    if params["max_latency_p99_ms"] is not None and params["max_latency_p99_ms"] <= 0:
        helper.fail(
            "max_latency_p99_ms must be more than 0 milliseconds, got {0}".format(params["max_latency_p99_ms"]), sent=0
        )
    if params["otlp_timeout"] <= 0:
        helper.fail("otlp_timeout must be more than 0 seconds, got {0}".format(params["otlp_timeout"]), sent=0)
    if params["otlp_endpoint"]:
        problem = endpoint_problem(params["otlp_endpoint"])
        if problem:
            helper.fail(problem, sent=0)
    try:
        # a bad template fails before anything is sent
        render_template(params["message_template"], "message_template", 1, params["topic"])
        if params["key"] is not None:
            render_template(params["key"], "key", 1, params["topic"])
    except ValueError as exc:
        helper.fail(str(exc), sent=0)


def find_topic(helper, params):
    """The topic's metadata (partitions, leaders); fails when it does not exist (the probe creates nothing)."""
    topic = describe_topics(helper, helper.admin()).get(params["topic"])
    if topic is None or not topic["partitions"]:
        helper.fail(
            "topic {0!r} does not exist on Kafka broker(s) {1}: the probe sends only to an existing topic "
            "(create it with kafka_topic)".format(params["topic"], describe_servers(params)),
            sent=0,
            topic=params["topic"],
        )
    return topic


def metadata_view(partition):
    return dict(
        partition=partition["partition"],
        leader=-1 if partition["leader"] is None else partition["leader"],
        replicas=partition["replicas"],
        isr=partition["isrs"],
        offline_replicas=partition["offline_replicas"],
    )


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(
            topic=dict(type="str", required=True),
            count=dict(type="int", default=50),
            message_template=dict(type="str", default="devsecops dojo message#{index}"),
            key=dict(type="str", no_log=False),
            timeout=dict(type="float", default=30),
            max_latency_p99_ms=dict(type="float"),
            min_availability=dict(type="float", default=1.0),
            **OTLP_ARGUMENT_SPEC,
        ),
        required_if=KAFKA_COMMON_REQUIRED_IF,
        required_together=KAFKA_COMMON_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    helper = KafkaModuleHelper(module)
    check_options(helper, params)
    topic = find_topic(helper, params)
    if module.check_mode:
        helper.exit(
            changed=True,
            topic=params["topic"],
            topic_partitions=topic["partition_count"],
            would_send=max(params["count"], topic["partition_count"]),
            sent=0,
            partitions=[metadata_view(p) for p in topic["partitions"]],
        )
    probe = Probe(helper, params, topic)
    probe.run()
    result = probe.result()
    if params["otlp_endpoint"]:
        probe.export(result)
    if result["problems"]:
        helper.fail(
            "probe of topic {0!r} on Kafka broker(s) {1} failed on partition{2} {3}: {4}".format(
                params["topic"],
                describe_servers(params),
                "s" if len(result["failed_partitions"]) > 1 else "",
                join_ints(result["failed_partitions"]),
                "; ".join(result["problems"]),
            ),
            **result,
        )
    helper.exit(**result)


if __name__ == "__main__":
    main()
