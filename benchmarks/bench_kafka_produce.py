"""Benchmark (not a timed test): kafka_produce against the runbook's producer.sh approach.

In one run, against one real Apache Kafka broker (4.3.1, KRaft, tests/support/kafka.py) on 127.0.0.1:
  1. kafka_produce, run through Ansible, sends --count small messages (batched, acks=all);
  2. the baseline sends --baseline-count messages the way producer.sh does without its
     `sleep 2`: one `kcat -P` process per message (Debian trixie's kcat 1.7.1 / librdkafka 2.8.0,
     fetched by fetch-kcat-trixie-kafka.sh);
then both topics are read back with kafka_consume to prove every message arrived, and the rates
and their ratio are printed.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.ansible_run import run_module  # noqa: E402
from tests.support.kafka import kafka_broker  # noqa: E402


def module(name, args):
    run = run_module(name, args, timeout=900)
    if run.failed:
        raise SystemExit("{0} failed: {1}".format(name, run.result.get("msg")))
    return run.result


def kcat_per_message(kcat, bootstrap, topic, count):
    """producer.sh's loop without the sleep: one kcat -P process per message.

    Returns (total seconds, per-process seconds)."""
    each = []
    started = time.monotonic()
    for index in range(1, count + 1):
        one = time.monotonic()
        proc = subprocess.run(
            [kcat, "-b", bootstrap, "-t", topic, "-P"],
            input="devsecops dojo message#{0}\n".format(index).encode(),
            capture_output=True,
            check=False,
        )
        each.append(time.monotonic() - one)
        if proc.returncode != 0:
            raise SystemExit("kcat failed on message #{0}: {1}".format(index, proc.stderr.decode(errors="replace")))
    return time.monotonic() - started, each


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000, help="messages sent with kafka_produce")
    parser.add_argument("--baseline-count", type=int, default=300, help="messages sent with one kcat process each")
    parser.add_argument(
        "--kcat-root", default=str(REPO / "build" / "kcat-trixie"), help="fetch-kcat-trixie-kafka.sh DEST"
    )
    args = parser.parse_args()
    kcat = str(Path(args.kcat_root) / "kcat")
    version = subprocess.run([kcat, "-V"], capture_output=True, text=True, check=True).stdout.splitlines()
    kcat_version = next((line for line in version if line.startswith("Version")), "?").split(" (")[0].split()[-1]
    librdkafka = next((line.split("librdkafka ")[1].split()[0] for line in version if "librdkafka " in line), "?")

    with kafka_broker() as broker:
        bs = [broker.bootstrap]
        for topic in ("bench-module", "bench-kcat"):
            module("kafka_topic", {"bootstrap_servers": bs, "name": topic, "partitions": 3})

        wall_started = time.monotonic()
        produced = module("kafka_produce", {"bootstrap_servers": bs, "topic": "bench-module", "count": args.count})
        wall = time.monotonic() - wall_started

        kcat_seconds, each = kcat_per_message(kcat, broker.bootstrap, "bench-kcat", args.baseline_count)

        # every message arrived (not only acknowledged)
        for topic, expected in (("bench-module", args.count), ("bench-kcat", args.baseline_count)):
            read = module(
                "kafka_consume",
                {
                    "bootstrap_servers": bs,
                    "topic": topic,
                    "max_messages": expected + 1,
                    "timeout": 60,
                    "expect_count": expected,
                    "expect_contains": ["devsecops dojo message#{0}".format(expected)],
                },
            )
            assert read["count"] == expected

    module_rate = produced["sent"] / produced["duration"]
    wall_rate = produced["sent"] / wall
    kcat_rate = args.baseline_count / kcat_seconds
    print()
    print(
        "kafka_produce vs the runbook's producer.sh approach, real Apache Kafka {0} broker on 127.0.0.1".format(
            broker.version
        )
    )
    print(
        "  kafka-python {0} (in the module), baseline kcat {1} / librdkafka {2} (Debian trixie)".format(
            produced.get("kafka_python_version"), kcat_version, librdkafka
        )
    )
    rows = [
        ("kafka_produce, batched, acks=all (send to last ack)", produced["sent"], produced["duration"], module_rate),
        ("kafka_produce incl. the whole ansible run", produced["sent"], wall, wall_rate),
        ("one `kcat -P` process per message (baseline)", args.baseline_count, kcat_seconds, kcat_rate),
    ]
    print("  {0:<55} {1:>8} {2:>10} {3:>12}".format("", "messages", "seconds", "msg/s"))
    for label, count, seconds, rate in rows:
        print("  {0:<55} {1:>8} {2:>10.3f} {3:>12.1f}".format(label, count, seconds, rate))
    print(
        "  ratio kafka_produce / kcat-per-message: {0:.0f}x (module time), {1:.0f}x (incl. ansible)".format(
            module_rate / kcat_rate, wall_rate / kcat_rate
        )
    )
    each.sort()
    slow = sum(1 for seconds in each if seconds > 0.5)
    print(
        "  kcat per process: median {0:.3f} s, p90 {1:.3f} s; {2} of {3} took > 0.5 s (librdkafka 2.8's exit"
        " sometimes waits ~1 s for its broker thread)".format(
            statistics.median(each), each[int(len(each) * 0.9) - 1], slow, len(each)
        )
    )
    median_rate = 1 / statistics.median(each)
    print(
        "  at the median process time kcat would do {0:.1f} msg/s: ratio {1:.0f}x (module time), {2:.0f}x (incl."
        " ansible)".format(median_rate, module_rate / median_rate, wall_rate / median_rate)
    )
    print("  all {0} + {1} messages read back with kafka_consume".format(args.count, args.baseline_count))


if __name__ == "__main__":
    main()
