"""The runbook's Kafka steps as a playbook: module_defaults through the `kafka` action group."""

import textwrap

from tests.support.ansible_run import run_playbook

PLAYBOOK = textwrap.dedent(
    """\
    - name: The runbook's Kafka steps, from serverapp's point of view
      hosts: localhost
      connection: local
      gather_facts: false
      module_defaults:
        group/dojo.kafka_observability.kafka:
          bootstrap_servers: ["{bootstrap}"]
          request_timeout: 10
      tasks:
        - name: Create the topic (kafka-topics.sh --create)
          dojo.kafka_observability.kafka_topic:
            name: "{topic}"
            partitions: 3
        - name: Look at it (kcat -L)
          dojo.kafka_observability.kafka_info:
            topics: ["{topic}"]
          register: info
        - name: Three partitions with a leader each
          ansible.builtin.assert:
            that:
              - info.topics[0].partition_count == 3
              - info.topics[0].partitions | selectattr('leader', 'ge', 0) | list | length == 3
        - name: Send 50 messages (./producer.sh 50)
          dojo.kafka_observability.kafka_produce:
            topic: "{topic}"
            count: 50
        - name: Read them back (kcat -C -o begin)
          dojo.kafka_observability.kafka_consume:
            topic: "{topic}"
            expect_count: 50
            expect_contains: ["devsecops dojo message#50"]
          register: consumed
        - name: Read them as the consumer group {topic}-readers, which commits its offsets
          dojo.kafka_observability.kafka_consume:
            topic: "{topic}"
            group_id: "{topic}-readers"
            expect_count: 50
          register: grouped
        - name: The group resumes after what it committed, so nothing is left
          dojo.kafka_observability.kafka_consume:
            topic: "{topic}"
            group_id: "{topic}-readers"
            start: committed
            expect_count: 0
          register: resumed
        - name: Report
          ansible.builtin.debug:
            msg: "consumed={{{{ consumed.count }}}} grouped={{{{ grouped.count }}}}/{{{{ grouped.committed }}}}
              resumed={{{{ resumed.count }}}}"
    """
)


def test_runbook_steps_as_a_playbook(tmp_path, broker, topic_name, module_env):
    playbook = tmp_path / "kafka.yml"
    playbook.write_text(PLAYBOOK.format(bootstrap=broker.bootstrap, topic=topic_name))
    proc = run_playbook(playbook, inventory="localhost,", env=module_env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "consumed=50 grouped=50/True resumed=0" in proc.stdout
    assert "ok=8" in proc.stdout
    assert "failed=0" in proc.stdout
