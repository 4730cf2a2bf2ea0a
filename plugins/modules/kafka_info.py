#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to dojo.kafka_observability
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kafka_info
short_description: Brokers, topics and partitions of a Kafka cluster, as data
version_added: 0.1.0
description:
  - Returns what C(kcat -L) prints, as data - the brokers (which one is the controller), the topics
    with their partition count and, per partition, the leader, the replicas and the in-sync replicas.
  - Also returns the same text as C(kcat -L) prints, in RV(summary).
author:
  - DevSecOps Dojo (@devsecops-dojo)
extends_documentation_fragment:
  - dojo.kafka_observability.kafka
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only; check mode runs it as usual.
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
  topics:
    description:
      - Only these topics. Names not found are listed in RV(missing_topics) (not an error).
      - All topics when omitted.
    type: list
    elements: str
  include_internal:
    description:
      - Include internal topics such as C(__consumer_offsets).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: What kcat -L shows, as data
  dojo.kafka_observability.kafka_info:
    bootstrap_servers: ["192.168.56.209:9092"]
    topics: [notifications]
  register: kafka

- name: The topic has 3 partitions, each with a leader
  ansible.builtin.assert:
    that:
      - kafka.topics[0].partition_count == 3
      - kafka.topics[0].partitions | rejectattr('leader', 'ge', 0) | list | length == 0
"""

RETURN = r"""
cluster_id:
  description: Cluster id reported by the broker.
  returned: success
  type: str
  sample: 5L6g3nShT-eMCtK--X86sw
controller_id:
  description: Id of the controller broker.
  returned: success
  type: int
  sample: 1
brokers:
  description: The brokers, by id.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Broker id.
      type: int
    host:
      description: Advertised host.
      type: str
    port:
      description: Advertised port.
      type: int
    rack:
      description: Rack, if the broker has one.
      type: str
    controller:
      description: Whether this broker is the controller.
      type: bool
  sample: [{id: 1, host: 192.168.56.209, port: 9092, rack: null, controller: true}]
topics:
  description: The topics, by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Topic name.
      type: str
    internal:
      description: Whether it is an internal topic.
      type: bool
    partition_count:
      description: Number of partitions.
      type: int
    replication_factor:
      description: Replicas of the most replicated partition.
      type: int
    error:
      description: Error the broker reported for the topic, if any.
      type: str
    partitions:
      description: Per partition, C(partition), C(leader), C(replicas), C(isrs), C(offline_replicas), C(error).
      type: list
      elements: dict
  sample:
    - name: notifications
      internal: false
      partition_count: 3
      replication_factor: 1
      error: null
      partitions:
        - {partition: 0, leader: 1, replicas: [1], isrs: [1], offline_replicas: [], error: null}
topic_names:
  description: Names of the returned topics.
  returned: success
  type: list
  elements: str
  sample: [notifications]
missing_topics:
  description: Names asked for in O(topics) that the cluster does not have.
  returned: success
  type: list
  elements: str
  sample: []
summary:
  description: The lines C(kcat -L) prints for the same metadata.
  returned: success
  type: list
  elements: str
  sample:
    - " 1 brokers:"
    - "  broker 1 at 192.168.56.209:9092 (controller)"
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
    describe_cluster,
    describe_topics,
    kafka_argument_spec,
    kcat_style_summary,
)


def select_topics(all_topics, wanted=None, include_internal=False):
    """(topics to return sorted by name, names asked for that are missing)."""
    if wanted:
        selected = [all_topics[n] for n in sorted(set(wanted)) if n in all_topics]
        missing = sorted(set(n for n in wanted if n not in all_topics))
    else:
        selected = [all_topics[n] for n in sorted(all_topics)]
        missing = []
    if not include_internal:
        selected = [t for t in selected if not t["internal"] or (wanted and t["name"] in wanted)]
    return selected, missing


def main():
    module = AnsibleModule(
        argument_spec=kafka_argument_spec(
            topics=dict(type="list", elements="str"),
            include_internal=dict(type="bool", default=False),
        ),
        required_if=KAFKA_COMMON_REQUIRED_IF,
        required_together=KAFKA_COMMON_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    helper = KafkaModuleHelper(module)
    for name in module.params["topics"] or []:
        helper.validate_topic(name)
    admin = helper.admin()
    cluster = describe_cluster(helper, admin)
    topics, missing = select_topics(
        describe_topics(helper, admin), module.params["topics"], module.params["include_internal"]
    )
    controller = [b for b in cluster["brokers"] if b["controller"]]
    origin = (
        "{0}: {1}:{2}/{0}".format(controller[0]["id"], controller[0]["host"], controller[0]["port"])
        if controller
        else None
    )
    helper.exit(
        changed=False,
        cluster_id=cluster["cluster_id"],
        controller_id=cluster["controller_id"],
        brokers=cluster["brokers"],
        topics=topics,
        topic_names=[t["name"] for t in topics],
        missing_topics=missing,
        summary=kcat_style_summary(cluster, topics, origin),
    )


if __name__ == "__main__":
    main()
