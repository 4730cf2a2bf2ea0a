"""Benchmark (not a timed test): what kafka_probe itself adds, against bare kafka-python on the same broker.

In one run, against one real Apache Kafka broker (4.3.1, KRaft, tests/support/kafka.py) on 127.0.0.1,
topic of 3 partitions, every figure measured in this process or by the module on this host:
  1. latency, one message per partition: kafka_probe count=3 (through Ansible, a new process each
     run) vs a bare send + poll round trip of kafka-python in this process (warm clients, one
     message in flight, the same producer and consumer settings as the probe's);
  2. latency, the runbook's 50 messages: kafka_probe count=50 vs bare kafka-python sending the same
     burst round-robin to the 3 partitions from new clients each round (as the probe does) and
     polling until all are back, in this process and in a new Python process each round (what a
     module run starts from: the difference is the price of a cold process, not of the probe);
  3. rate: kafka_probe count=--count vs the same bare burst of --count messages, sent and read back.
The probe's figures are its own (latency_ms, duration); the baselines use the same clock (time.monotonic,
send to consumed). Ratios are probe / baseline.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402

from tests.support.ansible_run import run_module  # noqa: E402
from tests.support.kafka import kafka_broker  # noqa: E402

PARTITIONS = 3
# the probe's client settings (plugins/modules/kafka_probe.py)
PRODUCER = dict(acks="all", linger_ms=0, enable_idempotence=False)
CONSUMER = dict(group_id=None, enable_auto_commit=False, auto_offset_reset="latest", fetch_max_wait_ms=100)


def nearest_rank(values, pct):
    ordered = sorted(values)
    return ordered[max(1, -(-pct * len(ordered) // 100)) - 1]


def summary(values):
    return {"p50": nearest_rank(values, 50), "p99": nearest_rank(values, 99), "max": max(values)}


def module(name, args):
    run = run_module(name, args, timeout=900)
    if run.failed:
        raise SystemExit("{0} failed: {1}".format(name, run.result.get("msg")))
    return run.result


class Bare:
    """kafka-python without the module: a producer and a consumer assigned to every partition at its end."""

    def __init__(self, bootstrap, topic):
        self.topic = topic
        self.producer = KafkaProducer(bootstrap_servers=[bootstrap], **PRODUCER)
        self.producer.partitions_for(topic)
        self.consumer = KafkaConsumer(bootstrap_servers=[bootstrap], **CONSUMER)
        self.tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(self.tps)
        for tp, end in self.consumer.end_offsets(self.tps).items():
            self.consumer.seek(tp, end)
        self.consumer.poll(timeout_ms=50)  # the first fetch is on its way, as the probe's reader's

    def burst(self, count, first=0, deadline=120.0):
        """Send messages first .. first+count-1 at once, message n to partition n % 3, and poll until all are
        back: ([latency ms], seconds from the first send to the last read)."""
        sent, read = {}, {}
        started = time.monotonic()
        for n in range(first, first + count):
            sent[n] = time.monotonic()
            self.producer.send(
                self.topic, value=b"devsecops dojo message#%d" % (n + 1), key=b"%d" % n, partition=n % PARTITIONS
            )
        limit = started + deadline
        while len(read) < count and time.monotonic() < limit:
            batch = self.consumer.poll(timeout_ms=50)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    n = int(record.key)
                    if n in sent and n not in read:
                        read[n] = now
        if len(read) < count:
            raise SystemExit("bare kafka-python read back {0} of {1} messages".format(len(read), count))
        return [(read[n] - sent[n]) * 1000 for n in sorted(sent)], time.monotonic() - started

    def close(self):
        self.producer.close()
        self.consumer.close()


def measure(args, broker):
    """Every figure of the report, measured against `broker`."""
    bs = [broker.bootstrap]
    module("kafka_topic", {"bootstrap_servers": bs, "name": "bench-probe", "partitions": PARTITIONS})
    probe_args = {"bootstrap_servers": bs, "topic": "bench-probe", "timeout": 120}
    # both sides warm the broker the same way before anything is measured
    module("kafka_probe", dict(probe_args, count=50))
    warm = Bare(broker.bootstrap, "bench-probe")
    warm.burst(50)
    figures = {"version": broker.version}

    # 1. one message per partition
    sequential = []
    for n in range(args.round_trips):
        sequential.extend(warm.burst(1, first=n)[0])
    warm.close()
    figures["round_trip"] = summary(sequential)
    figures["round_trips"] = len(sequential)
    one_each = [module("kafka_probe", dict(probe_args, count=PARTITIONS)) for _run in range(args.runs)]
    figures["probe3"] = median_summary(r["latency_ms"] for r in one_each)

    # 2. the runbook's 50
    bare50 = []
    for _run in range(args.runs):
        fresh = Bare(broker.bootstrap, "bench-probe")
        bare50.append(summary(fresh.burst(50)[0]))
        fresh.close()
    figures["bare50"] = median_summary(bare50)
    cold = []
    for _run in range(args.runs):
        once = subprocess.run(
            [sys.executable, __file__, "--bare-once", broker.bootstrap], capture_output=True, text=True, check=True
        )
        cold.append(summary(json.loads(once.stdout.splitlines()[-1])))
    figures["cold50"] = median_summary(cold)
    probe50, walls = [], []
    for _run in range(args.runs):
        started = time.monotonic()
        probe50.append(module("kafka_probe", dict(probe_args, count=50)))
        walls.append(time.monotonic() - started)
    figures["probe50"] = median_summary(r["latency_ms"] for r in probe50)
    figures["probe50_duration"] = statistics.median(r["duration"] for r in probe50)
    figures["probe50_wall"] = statistics.median(walls)

    # 3. rate
    fresh = Bare(broker.bootstrap, "bench-probe")
    figures["bare_seconds"] = fresh.burst(args.count)[1]
    fresh.close()
    figures["many"] = module("kafka_probe", dict(probe_args, count=args.count))
    return figures


def median_summary(rows):
    rows = list(rows)
    return {key: statistics.median(row[key] for row in rows) for key in ("p50", "p99", "max")}


def report(args, figures):
    many = figures["many"]
    seq, probe3, bare50, probe50 = figures["round_trip"], figures["probe3"], figures["bare50"], figures["probe50"]
    cold50 = figures["cold50"]
    print()
    print(
        "kafka_probe vs bare kafka-python {0}, real Apache Kafka {1} broker on 127.0.0.1, {2} partitions".format(
            many["kafka_python_version"], figures["version"], PARTITIONS
        )
    )
    print("  end-to-end latency in ms (send to consumed, host clock); rows of runs: median over {0}".format(args.runs))
    print("  {0:<62} {1:>8} {2:>8} {3:>8}".format("", "p50", "p99", "max"))
    rows = [
        ("bare send+poll round trip, warm clients ({0} in a row)".format(figures["round_trips"]), seq),
        ("kafka_probe count=3 (one message per partition)", probe3),
        ("bare burst of 50 from new clients (the probe's pattern)", bare50),
        ("the same bare burst in a new Python process", cold50),
        ("kafka_probe count=50", probe50),
    ]
    for label, values in rows:
        print("  {0:<62} {1:>8.3f} {2:>8.3f} {3:>8.3f}".format(label, values["p50"], values["p99"], values["max"]))
    print(
        "  ratio probe/bare: count=3 vs round trip p50 {0:.2f}x, p99 {1:.2f}x; count=50 vs burst p50 {2:.2f}x, "
        "p99 {3:.2f}x; vs the burst in a new process p50 {4:.2f}x, p99 {5:.2f}x".format(
            probe3["p50"] / seq["p50"],
            probe3["p99"] / seq["p99"],
            probe50["p50"] / bare50["p50"],
            probe50["p99"] / bare50["p99"],
            probe50["p50"] / cold50["p50"],
            probe50["p99"] / cold50["p99"],
        )
    )
    print(
        "  kafka_probe count=50: {0:.3f} s from the first send to the last message back, {1:.2f} s for the whole "
        "ansible run (medians)".format(figures["probe50_duration"], figures["probe50_wall"])
    )
    bare_rate = args.count / figures["bare_seconds"]
    print("  messages probed per second ({0} messages, sent and read back):".format(args.count))
    print("  {0:<62} {1:>10.0f}".format("bare kafka-python burst", bare_rate))
    print("  {0:<62} {1:>10.0f}".format("kafka_probe (its rate: sent / duration)", many["rate"]))
    print(
        "  ratio probe/bare: {0:.2f}x; the probe's availability {1}, p99 {2:.1f} ms".format(
            many["rate"] / bare_rate, many["availability"], many["latency_ms"]["p99"]
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="probe runs (and baseline rounds) per latency row")
    parser.add_argument("--round-trips", type=int, default=300, help="bare sequential round trips")
    parser.add_argument("--count", type=int, default=10000, help="messages of the rate row")
    parser.add_argument("--bare-once", metavar="BOOTSTRAP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_once:
        # one bare burst of 50 in this new process: its latencies as a JSON list
        bare = Bare(args.bare_once, "bench-probe")
        print(json.dumps(bare.burst(50)[0]))
        bare.close()
        return
    with kafka_broker() as broker:
        figures = measure(args, broker)
    report(args, figures)


if __name__ == "__main__":
    main()
