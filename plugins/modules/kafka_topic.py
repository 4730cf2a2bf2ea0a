#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kafka_topic
short_description: Create, grow, configure or delete a Kafka topic
version_added: 0.1.0
description:
  - Makes sure a Kafka topic exists with at least the given number of partitions and the given
    configuration, or that it does not exist.
  - Replaces C(kafka-topics.sh --create) run inside the broker's container.
  - Changes something only when the topic differs from what is asked.
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
  action_group:
    description: Use C(group/dojo.kafka_observability.kafka) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - dojo.kafka_observability.kafka
options:
  name:
    description:
      - Topic name. Kafka allows ASCII letters, digits, C(.), C(_) and C(-), at most 249 characters.
    type: str
    required: true
    aliases: [topic]
  state:
    description:
      - V(present) creates the topic or brings it to O(partitions) and O(config).
      - V(absent) deletes it.
    type: str
    default: present
    choices: [present, absent]
  partitions:
    description:
      - Number of partitions.
      - More than the topic has adds partitions (the CreatePartitions request; check mode asks the broker to
        validate it without adding them).
      - Fewer than the topic has fails, since Kafka cannot remove partitions.
    type: int
    default: 3
  replication_factor:
    description:
      - Replicas per partition when the topic is created (1 when omitted).
      - On an existing topic it is only compared; a different value fails, since changing it needs a
        partition reassignment.
    type: int
  config:
    description:
      - Topic configuration, for example C(retention.ms). Values are compared as strings.
      - Keys not listed are left as they are.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Create the notifications topic (the runbook's kafka-topics.sh --create)
  dojo.kafka_observability.kafka_topic:
    bootstrap_servers: ["192.168.56.209:9092"]
    name: notifications
    partitions: 3

- name: Keep messages for one day
  dojo.kafka_observability.kafka_topic:
    bootstrap_servers: ["192.168.56.209:9092"]
    name: notifications
    config:
      retention.ms: "86400000"

- name: Remove a test topic
  dojo.kafka_observability.kafka_topic:
    bootstrap_servers: ["192.168.56.209:9092"]
    name: scratch
    state: absent
"""

RETURN = r"""
topic:
  description: The topic after the run (what it would be in check mode); empty when absent.
  returned: always
  type: dict
  sample:
    name: notifications
    partitions: 3
    replication_factor: 1
    config: {}
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create topic 'notifications' with 3 partitions, replication factor 1"]
kafka_python_version:
  description: Version of kafka-python that ran the module.
  returned: always
  type: str
  sample: 3.0.12
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dojo.kafka_observability.plugins.module_utils.kafka_common import (
    KAFKA_COMMON_REQUIRED_IF,
    KAFKA_COMMON_REQUIRED_TOGETHER,
    KafkaModuleHelper,
    NewPartitions,
    NewTopic,
    alter_topic_config,
    describe_topic_config,
    describe_topics,
    error_text,
    kafka_argument_spec,
    wait_for_topic,
)


def topic_view(name, partitions, replication_factor, config):
    return dict(name=name, partitions=partitions, replication_factor=replication_factor, config=dict(config))


def wanted_config(params):
    """The config option as Kafka's strings (YAML true/false would become "True"/"False", which Kafka rejects)."""
    config = params["config"] or {}
    wanted = dict((str(k), "" if v is None else str(v)) for k, v in config.items())
    for key, value in config.items():
        if isinstance(value, bool):
            wanted[str(key)] = "true" if value else "false"
    return wanted


def check_options(helper, params):
    """Fail before connecting on options that cannot work."""
    helper.validate_topic(params["name"])
    if params["partitions"] < 1:
        helper.fail("partitions must be at least 1, got {0}".format(params["partitions"]))
    if params["replication_factor"] is not None and params["replication_factor"] < 1:
        helper.fail("replication_factor must be at least 1, got {0}".format(params["replication_factor"]))


class TopicManager(object):
    """Brings the topic to the state asked for: make_present or make_absent, chosen from a state map."""

    def __init__(self, helper, params):
        self.helper = helper
        self.module = helper.module
        self.params = params
        self.name = params["name"]
        self.wanted_config = wanted_config(params)
        self.admin = helper.admin()
        self.current = describe_topics(helper, self.admin).get(self.name)
        self.actions = []
        self.before = {}
        self.after = {}

    def execute(self):
        states_map = {
            "present": self.make_present,
            "absent": self.make_absent,
        }
        states_map[self.params["state"]]()
        result = dict(changed=bool(self.actions), actions=self.actions, topic=self.after)
        if self.module._diff:
            result["diff"] = dict(before=self.before, after=self.after)
        self.helper.exit(**result)

    def wait_or_warn(self, warning, **expected):
        """Poll the metadata until it shows the change; warn (`warning` + how long) when it does not."""
        if not wait_for_topic(self.helper, self.admin, self.name, **expected):
            self.module.warn("{0} after {1:g} s".format(warning, self.helper.timeout))

    def make_absent(self):
        if self.current is None:
            return
        self.before = topic_view(self.name, self.current["partition_count"], self.current["replication_factor"], {})
        self.actions.append("delete topic {0!r}".format(self.name))
        if self.module.check_mode:
            return
        self.helper.call(
            "deleting topic {0!r}".format(self.name),
            self.admin.delete_topics,
            [self.name],
            timeout_ms=int(self.helper.timeout * 1000),
        )
        self.wait_or_warn("topic {0!r} was deleted but still shows in the metadata".format(self.name), present=False)

    def make_present(self):
        if self.current is None:
            self.create()
        else:
            self.update()

    def create(self):
        name, partitions = self.name, self.params["partitions"]
        replication = self.params["replication_factor"] or 1
        config = self.wanted_config
        self.actions.append(
            "create topic {0!r} with {1} partitions, replication factor {2}{3}".format(
                name, partitions, replication, ", config " + repr(config) if config else ""
            )
        )
        self.after = topic_view(name, partitions, replication, config)
        if self.module.check_mode:
            return
        new_topic = NewTopic(name=name, num_partitions=partitions, replication_factor=replication, topic_configs=config)
        self.helper.call(
            "creating topic {0!r}".format(name),
            self.admin.create_topics,
            [new_topic],
            timeout_ms=int(self.helper.timeout * 1000),
        )
        self.wait_or_warn(
            "topic {0!r} was created but its partitions have no leader".format(name), partitions=partitions
        )

    def update(self):
        current_config = describe_topic_config(self.helper, self.admin, self.name)
        self.before = topic_view(
            self.name,
            self.current["partition_count"],
            self.current["replication_factor"],
            dict((k, current_config[k]["value"]) for k in self.wanted_config if k in current_config),
        )
        self.after = dict(self.before, config=dict(self.before["config"]))
        self.refuse_what_kafka_cannot_change()
        if self.params["partitions"] > self.current["partition_count"]:
            self.add_partitions()
        self.set_config(current_config)

    def refuse_what_kafka_cannot_change(self):
        name, have, partitions = self.name, self.current["partition_count"], self.params["partitions"]
        if partitions < have:
            self.helper.fail(
                "cannot decrease the partitions of topic {0!r} from {1} to {2}: Kafka cannot remove "
                "partitions (delete and re-create the topic, losing its messages, to have fewer)".format(
                    name, have, partitions
                ),
                topic=self.before,
            )
        wanted_rf, current_rf = self.params["replication_factor"], self.current["replication_factor"]
        if wanted_rf is not None and wanted_rf != current_rf:
            self.helper.fail(
                "topic {0!r} has replication factor {1}, not {2}: this module does not change the replication "
                "factor of an existing topic (that needs a partition reassignment)".format(name, current_rf, wanted_rf),
                topic=self.before,
            )

    def add_partitions(self):
        """CreatePartitions (validate_only in check mode: the broker checks it without adding them)."""
        name, have, partitions = self.name, self.current["partition_count"], self.params["partitions"]
        self.actions.append("add partitions to topic {0!r}: {1} -> {2}".format(name, have, partitions))
        self.after["partitions"] = partitions
        try:
            self.admin.create_partitions(
                {name: NewPartitions(total_count=partitions)},
                timeout_ms=int(self.helper.timeout * 1000),
                validate_only=self.module.check_mode,
            )
        except Exception as exc:  # pylint: disable=broad-except
            self.helper.fail(
                "cannot increase the partitions of topic {0!r} from {1} to {2}: {3}".format(
                    name, have, partitions, error_text(exc)
                ),
                topic=self.before,
            )
        if not self.module.check_mode:
            self.wait_or_warn(
                "partitions were added to {0!r} but do not show in the metadata".format(name), partitions=partitions
            )

    def set_config(self, current_config):
        changes = dict(
            (k, v) for k, v in self.wanted_config.items() if k not in current_config or current_config[k]["value"] != v
        )
        if not changes:
            return
        self.actions.append(
            "set configuration of topic {0!r}: {1}".format(
                self.name, ", ".join("{0}={1}".format(k, v) for k, v in sorted(changes.items()))
            )
        )
        self.after["config"].update(changes)
        if self.module.check_mode:
            return
        try:
            alter_topic_config(self.helper, self.admin, self.name, changes, current_config)
        except Exception as exc:  # pylint: disable=broad-except
            self.helper.fail(
                "cannot change the configuration of topic {0!r} ({1}): {2}".format(
                    self.name, ", ".join(sorted(changes)), error_text(exc)
                ),
                topic=self.before,
            )


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(
            name=dict(type="str", required=True, aliases=["topic"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            partitions=dict(type="int", default=3),
            replication_factor=dict(type="int"),
            config=dict(type="dict", default={}),
        ),
        required_if=KAFKA_COMMON_REQUIRED_IF,
        required_together=KAFKA_COMMON_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    helper = KafkaModuleHelper(module)
    check_options(helper, module.params)
    TopicManager(helper, module.params).execute()


if __name__ == "__main__":
    main()
