"""Unit tests of kafka_probe's figures and arguments (no broker: argument errors end the module before it
connects; the figures are pure functions)."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.dojo.kafka_observability.plugins.modules import kafka_probe


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        kafka_probe.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"topic": "t", "count": 0}, "count must be at least 1, got 0"),
        ({"topic": "t", "timeout": 0}, "timeout must be more than 0 seconds, got 0.0"),
        ({"topic": "t", "min_availability": 1.5}, "min_availability must be between 0 and 1, got 1.5"),
        ({"topic": "t", "min_availability": -0.1}, "min_availability must be between 0 and 1, got -0.1"),
        ({"topic": "t", "max_latency_p99_ms": 0}, "max_latency_p99_ms must be more than 0 milliseconds, got 0.0"),
        ({"topic": "t", "message_template": "m{n}"}, "message_template 'm{n}' uses the unknown field {n}"),
        ({"topic": "t", "key": "{run}-{index}"}, "key '{run}-{index}' uses the unknown field {run}"),
        ({"topic": "a/b"}, "invalid topic name 'a/b'"),
        ({"topic": "t", "otlp_endpoint": "collector:4318"}, "is not an http:// or https:// URL"),
        ({"topic": "t", "otlp_timeout": 0}, "otlp_timeout must be more than 0 seconds"),
        ({"topic": "t", "sasl_password": "hidden-pw"}, "sasl_password is set but security_protocol is PLAINTEXT"),
        ({}, "missing required arguments: topic"),
    ],
)
def test_argument_errors(args, expected, capsys):
    result = run_main(args, capsys)
    assert result["failed"] is True
    assert expected in result["msg"], result["msg"]
    assert "hidden-pw" not in json.dumps(result)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert kafka_probe.percentile(values, 50) == 50.0
    assert kafka_probe.percentile(values, 99) == 99.0
    assert kafka_probe.percentile([3.0], 99) == 3.0
    # 17 messages: p99 is the slowest, p50 the 9th
    seventeen = [float(v) for v in range(1, 18)]
    assert kafka_probe.percentile(seventeen, 99) == 17.0
    assert kafka_probe.percentile(seventeen, 50) == 9.0
    assert kafka_probe.percentile([], 50) is None


def test_latency_summary():
    assert kafka_probe.latency_summary([5.0, 1.23456, 2.0]) == {"p50": 2.0, "p99": 5.0, "max": 5.0}
    assert kafka_probe.latency_summary([0.0004]) == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    assert kafka_probe.latency_summary([]) == {"p50": None, "p99": None, "max": None}


def test_plan_is_round_robin_with_every_partition_at_least_once():
    assert kafka_probe.plan(5, [0, 1, 2]) == [(1, 0), (2, 1), (3, 2), (4, 0), (5, 1)]
    assert kafka_probe.plan(1, [0, 1, 2]) == [(1, 0), (2, 1), (3, 2)]
    fifty = kafka_probe.plan(50, [0, 1, 2])
    assert [sum(1 for _i, p in fifty if p == partition) for partition in (0, 1, 2)] == [17, 17, 16]


def partition(number, read_back, sent, p99, error=None):
    return {
        "partition": number,
        "read_back": read_back,
        "sent": sent,
        "availability": round(float(read_back) / sent, 4),
        "latency_ms": {"p50": p99, "p99": p99, "max": p99},
        "error": error,
    }


def test_thresholds_name_the_partitions():
    partitions = [
        partition(0, 17, 17, 3.5),
        partition(1, 16, 17, 12.0, error="1 acknowledged but not read back within 30 s"),
        partition(2, 0, 16, None, error="no leader before sending (replicas 2, offline 2)"),
    ]
    failed, problems = kafka_probe.threshold_problems(partitions, 1.0, None)
    assert failed == [1, 2]
    assert problems == [
        "availability below min_availability 1 on partitions 1 (16 of 17 read back: 1 acknowledged but not read back "
        "within 30 s), 2 (0 of 16 read back: no leader before sending (replicas 2, offline 2))"
    ]
    failed, problems = kafka_probe.threshold_problems(partitions, 0.9, 10)
    assert failed == [1, 2]
    assert problems == [
        "availability below min_availability 0.9 on partition 2 (0 of 16 read back: no leader before sending "
        "(replicas 2, offline 2))",
        "end-to-end latency p99 above max_latency_p99_ms 10 on partitions 1 (12 ms), 2 (nothing read back)",
    ]
    assert kafka_probe.threshold_problems(partitions[:1], 1.0, 3.5) == ([], [])
    assert kafka_probe.threshold_problems(partitions, 0, None) == ([], [])
