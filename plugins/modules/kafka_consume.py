#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kafka_consume
short_description: Read messages from a Kafka topic and check what arrived
version_added: 0.1.0
description:
  - Replaces the runbook's C(kcat -C -t notifications -o begin) - reads messages from the beginning,
    the end, an offset or a timestamp, and returns them.
  - Without O(group_id) the partitions are assigned directly (no consumer group, nothing committed).
    With O(group_id) it joins that group with a short session timeout and commits what it read.
  - Stops at the first of - O(max_messages) read, the end of every partition reached
    (O(stop_at_end)), O(timeout) seconds passed.
  - O(expect_count), O(expect_contains) and O(expect_regex) turn it into a check that fails with an
    account of what was found instead.
  - With O(otlp_endpoint), the messages read that carry a W3C C(traceparent) header (as
    M(dojo.kafka_observability.kafka_produce) writes it) continue their trace - for each distinct trace
    context a span C(process <topic>) of kind CONSUMER, child of the span named in the header, is exported
    with OTLP/HTTP JSON. Contexts whose sampled flag is off are not continued. RV(trace_ids) lists the traces.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - dojo.kafka_observability.kafka.otlp
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads as usual; with O(group_id) nothing is committed; no span is exported.
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
      - Topic to read.
    type: str
    required: true
  start:
    description:
      - Where to start in each partition - V(beginning), V(end) (only new messages), V(offset)
        (O(offset) in every partition), V(timestamp) (first message at or after O(timestamp)), or
        V(committed) (the group's committed offsets, else the beginning; needs O(group_id)).
    type: str
    default: beginning
    choices: [beginning, end, offset, timestamp, committed]
  offset:
    description:
      - Offset to start at with O(start=offset). A partition that ends before it is read from its end.
    type: int
  timestamp:
    description:
      - Milliseconds since the epoch to start at with O(start=timestamp).
    type: int
  partitions:
    description:
      - Read only these partitions (direct assignment). All partitions when omitted.
      - Cannot be used with O(group_id).
    type: list
    elements: int
  group_id:
    description:
      - Consumer group to join. Without it the partitions are assigned directly.
    type: str
  session_timeout:
    description:
      - Session timeout of the group membership, in seconds.
      - Kafka accepts it between its C(group.min.session.timeout.ms) and C(group.max.session.timeout.ms)
        (6 s and 30 min by default); outside that range the join fails and says so.
    type: float
    default: 6
  commit:
    description:
      - With O(group_id), commit the offsets read (not in check mode).
    type: bool
    default: true
  max_messages:
    description:
      - Stop after this many messages.
    type: int
    default: 1000
  timeout:
    description:
      - Seconds to read for at most. Reaching it is not an error by itself.
    type: float
    default: 10
  stop_at_end:
    description:
      - Stop when every partition has been read up to the end it had when reading started (like C(kcat -e)).
      - With V(false), read until O(max_messages) or O(timeout).
    type: bool
    default: true
  expect_count:
    description:
      - Fail unless exactly this many messages were read.
    type: int
  expect_contains:
    description:
      - Fail unless, for each string, at least one message value contains it.
    type: list
    elements: str
  expect_regex:
    description:
      - Fail unless at least one message value matches this regular expression (Python C(re.search)).
    type: str
"""

EXAMPLES = r"""
- name: Read the topic from the beginning and check the last test message is there
  dojo.kafka_observability.kafka_consume:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    start: beginning
    expect_contains: ["devsecops dojo message#50"]
  register: consumed

- name: Only messages sent in the last 5 minutes, as the group "verify"
  dojo.kafka_observability.kafka_consume:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    group_id: verify
    start: timestamp
    timestamp: "{{ (now(utc=true).timestamp() - 300) * 1000 | int }}"
    expect_regex: "^devsecops dojo message#[0-9]+$"

- name: Read the test messages and continue their trace (a consumer span per producer span)
  dojo.kafka_observability.kafka_consume:
    bootstrap_servers: ["192.168.56.209:9092"]
    topic: notifications
    otlp_endpoint: http://192.168.56.211:4318
  register: consumed
"""

RETURN = r"""
messages:
  description: The messages read, in the order they were read.
  returned: always
  type: list
  elements: dict
  contains:
    value:
      description: Value, decoded as UTF-8 (undecodable bytes as backslash escapes).
      type: str
    key:
      description: Key, decoded like the value, or null.
      type: str
    partition:
      description: Partition.
      type: int
    offset:
      description: Offset in the partition.
      type: int
    timestamp:
      description: Message timestamp, milliseconds since the epoch.
      type: int
    headers:
      description: Headers, name to decoded value.
      type: dict
  sample:
    - {value: "devsecops dojo message#1", key: null, partition: 0, offset: 0, timestamp: 1767225600000, headers: {}}
count:
  description: Number of messages read.
  returned: always
  type: int
  sample: 50
partitions:
  description: Partitions read.
  returned: always
  type: list
  elements: int
  sample: [0, 1, 2]
reached_end:
  description: Whether every partition was read up to its end (with O(stop_at_end)).
  returned: always
  type: bool
  sample: true
committed:
  description: Whether offsets were committed for O(group_id).
  returned: always
  type: bool
  sample: false
elapsed:
  description: Seconds spent reading.
  returned: always
  type: float
  sample: 0.4
trace_ids:
  description:
    - The traces continued - one per distinct sampled C(traceparent) context among the messages read,
      in the order they were first read (in check mode, the traces it would continue).
  returned: when O(otlp_endpoint) is set
  type: list
  elements: str
  sample: [4bf92f3577b34da6a3ce929d0e0e4736]
exported_spans:
  description: Number of consumer spans the OTLP endpoint accepted (0 in check mode).
  returned: when O(otlp_endpoint) is set
  type: int
  sample: 1
problems:
  description: The expectations that were not met.
  returned: failure of an expectation
  type: list
  elements: str
  sample: ["expected 50 messages, found 47"]
kafka_python_version:
  description: Version of kafka-python that ran the module.
  returned: always
  type: str
  sample: 3.0.12
"""

import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.kafka_common import (
    KAFKA_COMMON_REQUIRED_IF,
    KAFKA_COMMON_REQUIRED_TOGETHER,
    KafkaConsumer,
    KafkaModuleHelper,
    TopicPartition,
    check_expectations,
    decode_bytes,
    describe_found,
    kafka_argument_spec,
)
from ansible_collections.dojo.kafka_observability.plugins.module_utils.otlp import (
    FLAG_SAMPLED,
    OTLP_ARGUMENT_SPEC,
    SPAN_KIND_CONSUMER,
    TRACEPARENT_HEADER,
    OtlpError,
    endpoint_problem,
    export_spans,
    make_span,
    messaging_attributes,
    new_span_id,
    now_ns,
    parse_traceparent,
)

# an empty fetch comes back after this long, so the loop sees the timeout and the end in time
FETCH_MAX_WAIT_MS = 100
POLL_SECONDS = 0.5


def to_message(record):
    return dict(
        value=decode_bytes(record.value),
        key=decode_bytes(record.key),
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        headers=dict((name, decode_bytes(v)) for name, v in (getattr(record, "headers", None) or [])),
    )


def seek_beginning(helper, consumer, tps, params):
    consumer.seek_to_beginning(*tps)


def seek_end(helper, consumer, tps, params):
    consumer.seek_to_end(*tps)


def seek_offset(helper, consumer, tps, params):
    # a partition that ends before the offset is read from its end: a seek past the end would be
    # out of range, which Kafka's consumer answers by resetting to the beginning
    ends = consumer.end_offsets(tps)
    for tp in tps:
        end = ends.get(tp)
        consumer.seek(tp, end if end is not None and params["offset"] > end else params["offset"])


def seek_timestamp(helper, consumer, tps, params):
    found = helper.call(
        "looking up offsets for timestamp {0}".format(params["timestamp"]),
        consumer.offsets_for_times,
        dict((tp, params["timestamp"]) for tp in tps),
    )
    after_last = []
    for tp in tps:
        entry = (found or {}).get(tp)
        # no message at or after the timestamp: kafka-python gives None (Kafka answers offset -1)
        if entry is None or entry.offset < 0:
            after_last.append(tp)
        else:
            consumer.seek(tp, entry.offset)
    if after_last:
        consumer.seek_to_end(*after_last)


# where each value of `start` positions the consumer (committed: the group's offsets, nothing to seek)
START_POSITIONS = {
    "beginning": seek_beginning,
    "end": seek_end,
    "offset": seek_offset,
    "timestamp": seek_timestamp,
}


def seek_start(helper, consumer, tps, params):
    seek = START_POSITIONS.get(params["start"])
    if seek is not None:
        seek(helper, consumer, tps, params)


def join_hint(session_timeout):
    def hint(exc):
        if type(exc).__name__ == "InvalidSessionTimeoutError":
            return (
                "; session_timeout {0:g} s is outside the range the broker allows (group.min.session.timeout.ms "
                "to group.max.session.timeout.ms, 6 s to 30 min by default)".format(session_timeout)
            )
        return ""

    return hint


def trace_contexts(messages):
    """{(trace_id, parent_span_id): message count} of the sampled traceparent headers, in reading order."""
    contexts = {}
    for message in messages:
        value = next((v for k, v in message["headers"].items() if str(k).lower() == TRACEPARENT_HEADER), None)
        parsed = parse_traceparent(value) if value is not None else None
        if parsed is None or not parsed[2] & FLAG_SAMPLED:
            continue
        key = (parsed[0], parsed[1])
        contexts[key] = contexts.get(key, 0) + 1
    return contexts


def consumer_spans(params, contexts, start_ns, end_ns):
    """One CONSUMER span `process <topic>` per trace context, child of the span in the header."""
    extra = {"messaging.client.id": "dojo.kafka_observability"}
    if params["group_id"]:
        extra["messaging.consumer.group.name"] = params["group_id"]
    spans = []
    for (trace_id, parent_span_id), count in contexts.items():
        spans.append(
            make_span(
                trace_id,
                new_span_id(),
                "process {0}".format(params["topic"]),
                SPAN_KIND_CONSUMER,
                start_ns=start_ns,
                end_ns=end_ns,
                attributes=messaging_attributes(
                    params["topic"], "process", count, params["bootstrap_servers"], extra=extra
                ),
                parent_span_id=parent_span_id,
            )
        )
    return spans


ARGUMENT_SPEC = dict(
    topic=dict(type="str", required=True),
    start=dict(type="str", default="beginning", choices=["beginning", "end", "offset", "timestamp", "committed"]),
    offset=dict(type="int"),
    timestamp=dict(type="int"),
    partitions=dict(type="list", elements="int"),
    group_id=dict(type="str"),
    session_timeout=dict(type="float", default=6),
    commit=dict(type="bool", default=True),
    max_messages=dict(type="int", default=1000),
    timeout=dict(type="float", default=10),
    stop_at_end=dict(type="bool", default=True),
    expect_count=dict(type="int"),
    expect_contains=dict(type="list", elements="str"),
    expect_regex=dict(type="str"),
)


def check_options(helper, params):
    """Fail before connecting on options that cannot work."""
    helper.validate_topic(params["topic"])
    if params["max_messages"] < 1:
        helper.fail("max_messages must be at least 1, got {0}".format(params["max_messages"]))
    if params["timeout"] <= 0:
        helper.fail("timeout must be more than 0 seconds, got {0}".format(params["timeout"]))
    if params["offset"] is not None and params["offset"] < 0:
        helper.fail("offset must be 0 or more, got {0}".format(params["offset"]))
    if params["session_timeout"] <= 0:
        helper.fail("session_timeout must be more than 0 seconds, got {0}".format(params["session_timeout"]))
    if params["expect_regex"]:
        try:
            re.compile(params["expect_regex"])
        except re.error as exc:
            helper.fail("expect_regex {0!r} is not a valid regular expression: {1}".format(params["expect_regex"], exc))
    if params["otlp_timeout"] <= 0:
        helper.fail("otlp_timeout must be more than 0 seconds, got {0}".format(params["otlp_timeout"]))
    if params["otlp_endpoint"]:
        problem = endpoint_problem(params["otlp_endpoint"])
        if problem:
            helper.fail(problem)


def consumer_settings(params, request_timeout):
    group = params["group_id"]
    settings = dict(
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest" if params["start"] == "end" else "earliest",
        max_poll_records=min(params["max_messages"], 500),
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        # reading never creates the topic (kafka-python 3.0; 2.0.2 asks for all topics, which creates none)
        allow_auto_create_topics=False,
    )
    if group:
        session_ms = int(params["session_timeout"] * 1000)
        settings.update(
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(100, session_ms // 3),
            # kafka-python wants the request timeout above the session timeout
            request_timeout_ms=max(int(request_timeout * 1000), session_ms + 1000),
        )
    return settings


class Reader(object):
    """One read: the partitions taken (a group's or assigned ones, chosen from a map), the loop, the result."""

    def __init__(self, helper, params):
        self.helper = helper
        self.module = helper.module
        self.params = params
        self.topic = params["topic"]
        self.consumer = helper.connect(KafkaConsumer, **consumer_settings(params, helper.timeout))
        self.messages = []
        self.tps = []
        self.reached_end = False
        self.started = self.limit = self.started_ns = self.finished_ns = None
        self.elapsed = None

    def execute(self):
        wanted = self.partitions_to_read()
        self.started = time.monotonic()
        self.started_ns = now_ns()
        self.limit = self.started + self.params["timeout"]
        membership = {
            "group": self.join_group,
            "assigned": self.assign,
        }
        membership["group" if self.params["group_id"] else "assigned"](wanted)
        self.read()
        committed = self.commit()
        result = dict(
            changed=committed,
            messages=self.messages,
            count=len(self.messages),
            partitions=[tp.partition for tp in self.tps],
            reached_end=self.reached_end,
            committed=committed,
            elapsed=self.elapsed,
        )
        export_failure = self.export(result) if self.params["otlp_endpoint"] else None
        self.finish(result, export_failure)

    def partitions_to_read(self):
        params, topic = self.params, self.topic
        available = self.helper.call(
            "fetching the partitions of topic {0!r}".format(topic), self.consumer.partitions_for_topic, topic
        )
        if not available:
            self.helper.fail(
                "topic {0!r} does not exist on Kafka broker(s) {1} (no partitions in the metadata)".format(
                    topic, ", ".join(params["bootstrap_servers"])
                ),
                messages=[],
                count=0,
            )
        wanted = sorted(available)
        if params["partitions"]:
            unknown = sorted(set(params["partitions"]) - set(available))
            if unknown:
                self.helper.fail(
                    "topic {0!r} has partitions {1}; it has no partition {2}".format(
                        topic, ", ".join(str(p) for p in wanted), ", ".join(str(p) for p in unknown)
                    )
                )
            wanted = sorted(set(params["partitions"]))
        return wanted

    def join_group(self, wanted):
        """Subscribe as the group; what the first polls return counts with start=committed."""
        params, group = self.params, self.params["group_id"]
        self.consumer.subscribe([self.topic])
        early = []
        while not self.consumer.assignment() and time.monotonic() < self.limit:
            batch = self.helper.call(
                "joining consumer group {0!r}".format(group),
                self.consumer.poll,
                timeout_ms=200,
                _hint=join_hint(params["session_timeout"]),
            )
            for records in (batch or {}).values():
                early.extend(records)
        self.tps = sorted(self.consumer.assignment(), key=lambda tp: tp.partition)
        if not self.tps:
            self.helper.fail(
                "joining consumer group {0!r} got no partitions of topic {1!r} within {2:g} s (timeout): other "
                "members of the group may hold them all, or the group is still rebalancing".format(
                    group, self.topic, params["timeout"]
                ),
                messages=[],
                count=0,
            )
        if params["start"] == "committed":
            self.messages.extend(to_message(r) for r in early)
        else:
            self.helper.call("positioning the consumer", seek_start, self.helper, self.consumer, self.tps, params)

    def assign(self, wanted):
        self.tps = [TopicPartition(self.topic, p) for p in wanted]
        self.consumer.assign(self.tps)
        self.helper.call("positioning the consumer", seek_start, self.helper, self.consumer, self.tps, self.params)

    def at_end(self, ends):
        """Every partition read up to the end offset it had when reading started."""
        return self.params["stop_at_end"] and all(
            self.helper.call("reading positions", self.consumer.position, tp) >= ends.get(tp, 0) for tp in self.tps
        )

    def read(self):
        params, most = self.params, self.params["max_messages"]
        ends = (
            self.helper.call("reading end offsets", self.consumer.end_offsets, self.tps)
            if params["stop_at_end"]
            else {}
        )
        while len(self.messages) < most:
            if self.at_end(ends):
                self.reached_end = True
                break
            remaining = self.limit - time.monotonic()
            if remaining <= 0:
                break
            batch = self.helper.call(
                "reading messages",
                self.consumer.poll,
                timeout_ms=int(min(remaining, POLL_SECONDS) * 1000),
                max_records=most - len(self.messages),
            )
            for records in (batch or {}).values():
                self.messages.extend(to_message(record) for record in records)
        if len(self.messages) >= most and not self.reached_end:
            self.reached_end = self.at_end(ends)
        self.messages = self.messages[:most]
        self.elapsed = round(time.monotonic() - self.started, 3)
        self.finished_ns = now_ns()

    def commit(self):
        group = self.params["group_id"]
        if group and self.params["commit"] and self.messages and not self.module.check_mode:
            self.helper.call("committing offsets for group {0!r}".format(group), self.consumer.commit)
            return True
        return False

    def export(self, result):
        """Continue the traces of the messages read; returns the export failure's sentence, or None."""
        params = self.params
        contexts = trace_contexts(self.messages)
        result["trace_ids"] = list(dict.fromkeys(trace_id for trace_id, _parent in contexts))
        result["exported_spans"] = 0
        if not contexts or self.module.check_mode:
            return None
        try:
            result["exported_spans"] = export_spans(
                params["otlp_endpoint"],
                params["otlp_service_name"],
                consumer_spans(params, contexts, self.started_ns, self.finished_ns),
                headers=params["otlp_headers"],
                timeout=params["otlp_timeout"],
            )
        except OtlpError as exc:
            return (
                "the {0} messages were read from topic {1!r}, but the consumer spans of their {2} trace(s) "
                "were not exported: {3}".format(len(self.messages), self.topic, len(result["trace_ids"]), exc)
            )
        return None

    def finish(self, result, export_failure):
        params = self.params
        problems = check_expectations(
            [m["value"] for m in self.messages],
            params["expect_count"],
            params["expect_contains"],
            params["expect_regex"],
        )
        if problems:
            why = (
                ""
                if self.reached_end or not params["stop_at_end"]
                else " (stopped after {0:g} s or {1} messages before the end)".format(
                    params["timeout"], params["max_messages"]
                )
            )
            self.helper.fail(
                "expectations not met on topic {0!r} (start: {1}): {2}; {3}{4}{5}".format(
                    self.topic,
                    params["start"],
                    "; ".join(problems),
                    describe_found(self.messages),
                    why,
                    "; also, " + export_failure if export_failure else "",
                ),
                problems=problems,
                **result,
            )
        if export_failure:
            self.helper.fail(export_failure, **result)
        self.helper.exit(**result)


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(**dict(ARGUMENT_SPEC, **OTLP_ARGUMENT_SPEC)),
        required_if=[
            *KAFKA_COMMON_REQUIRED_IF,
            ("start", "offset", ("offset",)),
            ("start", "timestamp", ("timestamp",)),
            ("start", "committed", ("group_id",)),
        ],
        required_together=KAFKA_COMMON_REQUIRED_TOGETHER,
        mutually_exclusive=[("partitions", "group_id")],
        supports_check_mode=True,
    )
    helper = KafkaModuleHelper(module)
    check_options(helper, module.params)
    Reader(helper, module.params).execute()


if __name__ == "__main__":
    main()
