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
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads as usual; with O(group_id) nothing is committed.
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
      - Offset to start at with O(start=offset).
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
      - Session timeout of the group membership, in seconds. Joining takes about half of it on Tansu.
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
    KAFKA_VERSION,
    KafkaConsumer,
    KafkaModuleHelper,
    TopicPartition,
    check_expectations,
    decode_bytes,
    describe_found,
    kafka_argument_spec,
)

FETCH_MAX_WAIT_MS = 100
JOIN_HINT = (
    ". With kafka-python 2.0.2, an UnknownError here is Tansu answering JoinGroup v2 with"
    " MEMBER_ID_REQUIRED (error 79), which only JoinGroup v4+ clients handle: read without group_id"
)
# a poll this long spans a few empty fetch rounds
END_CHECK_SECONDS = 0.4


def to_message(record):
    return dict(
        value=decode_bytes(record.value),
        key=decode_bytes(record.key),
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        headers=dict((name, decode_bytes(v)) for name, v in (getattr(record, "headers", None) or [])),
    )


def seek_to_end(consumer, tps, others, params):
    """Position `tps` after their last message.

    Tansu's end offset is the base offset of the last batch + 1 (not its last offset + 1): read
    and drop what is already there until a fetch round brings nothing. `others` (assigned
    partitions positioned elsewhere) are paused meanwhile.
    """
    consumer.seek_to_end(*tps)
    if others:
        consumer.pause(*others)
    limit = time.monotonic() + params["timeout"]
    while time.monotonic() < limit and consumer.poll(timeout_ms=int(END_CHECK_SECONDS * 1000)):
        pass
    if others:
        consumer.resume(*others)


def seek_start(helper, consumer, tps, params):
    start = params["start"]
    if start == "beginning":
        consumer.seek_to_beginning(*tps)
    elif start == "end":
        seek_to_end(consumer, tps, [], params)
    elif start == "offset":
        for tp in tps:
            consumer.seek(tp, params["offset"])
    elif start == "timestamp":
        found = helper.call(
            "looking up offsets for timestamp {0}".format(params["timestamp"]),
            consumer.offsets_for_times,
            dict((tp, params["timestamp"]) for tp in tps),
        )
        after_last = []
        for tp in tps:
            entry = (found or {}).get(tp)
            # no message at or after the timestamp: Kafka answers offset -1, Tansu offset 0 with timestamp -1
            if entry is None or entry.offset < 0 or (entry.timestamp is not None and entry.timestamp < 0):
                after_last.append(tp)
            else:
                consumer.seek(tp, entry.offset)
        if after_last:
            seek_to_end(consumer, after_last, [tp for tp in tps if tp not in after_last], params)


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(
            topic=dict(type="str", required=True),
            start=dict(
                type="str", default="beginning", choices=["beginning", "end", "offset", "timestamp", "committed"]
            ),
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
        ),
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
    params = module.params
    helper = KafkaModuleHelper(module)
    topic = params["topic"]
    helper.validate_topic(topic)
    if params["max_messages"] < 1:
        helper.fail("max_messages must be at least 1, got {0}".format(params["max_messages"]))
    if params["timeout"] <= 0:
        helper.fail("timeout must be more than 0 seconds, got {0}".format(params["timeout"]))
    if params["offset"] is not None and params["offset"] < 0:
        helper.fail("offset must be 0 or more, got {0}".format(params["offset"]))
    if params["expect_regex"]:
        try:
            re.compile(params["expect_regex"])
        except re.error as exc:
            helper.fail("expect_regex {0!r} is not a valid regular expression: {1}".format(params["expect_regex"], exc))
    group = params["group_id"]
    session_ms = int(params["session_timeout"] * 1000)
    request_ms = int(helper.timeout * 1000)
    settings = dict(
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest" if params["start"] == "end" else "earliest",
        max_poll_records=min(params["max_messages"], 500),
        # an empty fetch comes back after this long: the end check below relies on it
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    if group:
        settings.update(
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(100, session_ms // 3),
            # kafka-python wants the request timeout above the session timeout
            request_timeout_ms=max(request_ms, session_ms + 1000),
        )
    consumer = helper.connect(KafkaConsumer, **settings)

    available = helper.call(
        "fetching the partitions of topic {0!r}".format(topic), consumer.partitions_for_topic, topic
    )
    if not available:
        helper.fail(
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
            helper.fail(
                "topic {0!r} has partitions {1}; it has no partition {2}".format(
                    topic, ", ".join(str(p) for p in wanted), ", ".join(str(p) for p in unknown)
                )
            )
        wanted = sorted(set(params["partitions"]))

    started = time.monotonic()
    limit = started + params["timeout"]
    messages = []
    if group:
        consumer.subscribe([topic])
        early = []
        while not consumer.assignment() and time.monotonic() < limit:
            batch = helper.call(
                "joining consumer group {0!r}".format(group),
                consumer.poll,
                timeout_ms=200,
                _hint=JOIN_HINT if (KAFKA_VERSION or "").startswith("2.0") else "",
            )
            for records in (batch or {}).values():
                early.extend(records)
        tps = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        if not tps:
            helper.fail(
                "joining consumer group {0!r} got no partitions of topic {1!r} within {2:g} s (timeout); "
                "Tansu takes about half the session timeout ({3:g} s) to complete a join".format(
                    group, topic, params["timeout"], params["session_timeout"]
                ),
                messages=[],
                count=0,
            )
        if params["start"] == "committed":
            messages.extend(to_message(r) for r in early)
        else:
            helper.call("positioning the consumer", seek_start, helper, consumer, tps, params)
    else:
        tps = [TopicPartition(topic, p) for p in wanted]
        consumer.assign(tps)
        helper.call("positioning the consumer", seek_start, helper, consumer, tps, params)

    ends = helper.call("reading end offsets", consumer.end_offsets, tps) if params["stop_at_end"] else {}
    reached_end = False
    while len(messages) < params["max_messages"]:
        remaining = limit - time.monotonic()
        if remaining <= 0:
            break
        caught_up = params["stop_at_end"] and all(
            helper.call("reading positions", consumer.position, tp) >= ends.get(tp, 0) for tp in tps
        )
        # Past the end offsets read at the start, one more fetch round that brings nothing means
        # the end. Tansu reports the end of a partition as the base offset of its last batch + 1,
        # so the position can pass it while records of that batch are still to come (or, after a
        # seek into the batch, before any were read); that fetch round gets them.
        wait_ms = int(min(remaining, END_CHECK_SECONDS if caught_up else 0.5) * 1000)
        batch = helper.call(
            "reading messages", consumer.poll, timeout_ms=wait_ms, max_records=params["max_messages"] - len(messages)
        )
        received = 0
        for records in (batch or {}).values():
            for record in records:
                messages.append(to_message(record))
                received += 1
        if caught_up and not received:
            reached_end = True
            break
    messages = messages[: params["max_messages"]]
    elapsed = round(time.monotonic() - started, 3)

    committed = False
    if group and params["commit"] and messages and not module.check_mode:
        helper.call("committing offsets for group {0!r}".format(group), consumer.commit)
        committed = True

    result = dict(
        changed=committed,
        messages=messages,
        count=len(messages),
        partitions=[tp.partition for tp in tps],
        reached_end=reached_end,
        committed=committed,
        elapsed=elapsed,
    )
    problems = check_expectations(
        [m["value"] for m in messages], params["expect_count"], params["expect_contains"], params["expect_regex"]
    )
    if problems:
        why = (
            ""
            if reached_end or not params["stop_at_end"]
            else " (stopped after {0:g} s or {1} messages before the end)".format(
                params["timeout"], params["max_messages"]
            )
        )
        helper.fail(
            "expectations not met on topic {0!r} (start: {1}): {2}; {3}{4}".format(
                topic, params["start"], "; ".join(problems), describe_found(messages), why
            ),
            problems=problems,
            **result,
        )
    helper.exit(**result)


if __name__ == "__main__":
    main()
