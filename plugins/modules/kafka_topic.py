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
    params = module.params
    name = params["name"]
    helper.validate_topic(name)
    if params["partitions"] < 1:
        helper.fail("partitions must be at least 1, got {0}".format(params["partitions"]))
    if params["replication_factor"] is not None and params["replication_factor"] < 1:
        helper.fail("replication_factor must be at least 1, got {0}".format(params["replication_factor"]))
    wanted_config = dict((str(k), "" if v is None else str(v)) for k, v in (params["config"] or {}).items())
    if isinstance(params["config"], dict):
        for key, value in params["config"].items():
            if isinstance(value, bool):
                # YAML true/false would become "True"/"False", which Kafka rejects
                wanted_config[str(key)] = "true" if value else "false"

    admin = helper.admin()
    topics = describe_topics(helper, admin)
    current = topics.get(name)
    actions = []
    changed = False
    before = {}
    after = {}

    if params["state"] == "absent":
        if current is not None:
            before = topic_view(name, current["partition_count"], current["replication_factor"], {})
            actions.append("delete topic {0!r}".format(name))
            changed = True
            if not module.check_mode:
                helper.call(
                    "deleting topic {0!r}".format(name),
                    admin.delete_topics,
                    [name],
                    timeout_ms=int(helper.timeout * 1000),
                )
                if not wait_for_topic(helper, admin, name, present=False):
                    module.warn(
                        "topic {0!r} was deleted but still shows in the metadata after {1:g} s".format(
                            name, helper.timeout
                        )
                    )
        result = dict(changed=changed, actions=actions, topic={})
        if module._diff:
            result["diff"] = dict(before=before, after={})
        helper.exit(**result)

    partitions = params["partitions"]
    if current is None:
        replication = params["replication_factor"] or 1
        actions.append(
            "create topic {0!r} with {1} partitions, replication factor {2}{3}".format(
                name, partitions, replication, ", config " + repr(wanted_config) if wanted_config else ""
            )
        )
        changed = True
        after = topic_view(name, partitions, replication, wanted_config)
        if not module.check_mode:
            new_topic = NewTopic(
                name=name, num_partitions=partitions, replication_factor=replication, topic_configs=wanted_config
            )
            helper.call(
                "creating topic {0!r}".format(name),
                admin.create_topics,
                [new_topic],
                timeout_ms=int(helper.timeout * 1000),
            )
            if not wait_for_topic(helper, admin, name, partitions=partitions):
                module.warn(
                    "topic {0!r} was created but its partitions have no leader after {1:g} s".format(
                        name, helper.timeout
                    )
                )
    else:
        current_config = describe_topic_config(helper, admin, name)
        before = topic_view(
            name,
            current["partition_count"],
            current["replication_factor"],
            dict((k, current_config[k]["value"]) for k in wanted_config if k in current_config),
        )
        after = dict(before, config=dict(before["config"]))
        if partitions < current["partition_count"]:
            helper.fail(
                "cannot decrease the partitions of topic {0!r} from {1} to {2}: Kafka cannot remove "
                "partitions (delete and re-create the topic, losing its messages, to have fewer)".format(
                    name, current["partition_count"], partitions
                ),
                topic=before,
            )
        wanted_rf = params["replication_factor"]
        if wanted_rf is not None and wanted_rf != current["replication_factor"]:
            helper.fail(
                "topic {0!r} has replication factor {1}, not {2}: this module does not change the replication "
                "factor of an existing topic (that needs a partition reassignment)".format(
                    name, current["replication_factor"], wanted_rf
                ),
                topic=before,
            )
        if partitions > current["partition_count"]:
            actions.append(
                "add partitions to topic {0!r}: {1} -> {2}".format(name, current["partition_count"], partitions)
            )
            changed = True
            after["partitions"] = partitions
            try:
                admin.create_partitions(
                    {name: NewPartitions(total_count=partitions)},
                    timeout_ms=int(helper.timeout * 1000),
                    validate_only=module.check_mode,
                )
            except Exception as exc:  # pylint: disable=broad-except
                helper.fail(
                    "cannot increase the partitions of topic {0!r} from {1} to {2}: {3}".format(
                        name, current["partition_count"], partitions, error_text(exc)
                    ),
                    topic=before,
                )
            if not module.check_mode and not wait_for_topic(helper, admin, name, partitions=partitions):
                module.warn(
                    "partitions were added to {0!r} but do not show in the metadata after {1:g} s".format(
                        name, helper.timeout
                    )
                )
        changes = dict(
            (k, v) for k, v in wanted_config.items() if k not in current_config or current_config[k]["value"] != v
        )
        if changes:
            actions.append(
                "set configuration of topic {0!r}: {1}".format(
                    name, ", ".join("{0}={1}".format(k, v) for k, v in sorted(changes.items()))
                )
            )
            changed = True
            after["config"].update(changes)
            if not module.check_mode:
                try:
                    alter_topic_config(helper, admin, name, changes, current_config)
                except Exception as exc:  # pylint: disable=broad-except
                    helper.fail(
                        "cannot change the configuration of topic {0!r} ({1}): {2}".format(
                            name, ", ".join(sorted(changes)), error_text(exc)
                        ),
                        topic=before,
                    )

    result = dict(changed=changed, actions=actions, topic=after)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    helper.exit(**result)


if __name__ == "__main__":
    main()
