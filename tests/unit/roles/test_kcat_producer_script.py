"""The kcat role's producer helper (the runbook's producer.sh, fixed), run against a fake kcat."""

import os
import stat
import subprocess

import pytest

from .conftest import render_role_template

FAKE_KCAT = """#!/bin/bash
# fake kcat: records its arguments and stdin; FAKE_LIST_RC is the exit code of -L,
# FAKE_FAIL_AT makes the Nth produce fail
log="$FAKE_LOG"
if [ "$1" = "-L" ]; then
  echo "list $*" >> "$log"
  exit "${FAKE_LIST_RC:-0}"
fi
n=$(( $(grep -c '^produce' "$log" 2>/dev/null || true) + 1 ))
echo "produce $* <<$(cat)>>" >> "$log"
if [ "${FAKE_FAIL_AT:-0}" = "$n" ]; then
  echo "fake kcat: delivery failed" >&2
  exit 1
fi
exit 0
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kcat")
    (text,) = render_role_template(
        tmp_path,
        "kcat",
        "kcat-producer.sh.j2",
        [
            {
                "kcat_producer_broker": "10.0.0.9:9092",
                "kcat_producer_topic": "it's notifications",
                "kcat_producer_interval": 0,
            }
        ],
    )
    path = tmp_path / "kcat-producer"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    fake = tmp_path / "kcat"
    fake.write_text(FAKE_KCAT)
    fake.chmod(0o755)
    return path, fake


def run(script, tmp_path, *args, **env):
    path, fake = script
    log = tmp_path / "kcat.log"
    log.write_text("")
    full_env = dict(os.environ, KCAT=str(fake), FAKE_LOG=str(log), **env)
    proc = subprocess.run([str(path), *args], capture_output=True, text=True, env=full_env, timeout=60, check=False)
    return proc, log.read_text().splitlines()


def test_sends_count_messages_with_baked_in_defaults(script, tmp_path):
    proc, calls = run(script, tmp_path, "3")
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == "list -L -b 10.0.0.9:9092 -m 10"
    assert calls[1:] == [
        "produce -b 10.0.0.9:9092 -t it's notifications -P <<devsecops dojo message#{0}>>".format(i) for i in (1, 2, 3)
    ]
    assert "Message #3 sent" in proc.stdout


def test_options_override_broker_topic_and_interval(script, tmp_path):
    proc, calls = run(script, tmp_path, "-b", "broker:19092", "-t", "other topic", "-i", "0.01", "2")
    assert proc.returncode == 0, proc.stderr
    assert calls[1] == "produce -b broker:19092 -t other topic -P <<devsecops dojo message#1>>"
    assert len(calls) == 3


@pytest.mark.parametrize(
    "args",
    [[], ["abc"], ["0"], ["-5"], ["1", "2"], ["-x", "3"], ["-i", "soon", "3"], ["-b"]],
)
def test_usage_errors_exit_1(script, tmp_path, args):
    proc, calls = run(script, tmp_path, *args)
    assert proc.returncode == 1
    assert "Usage:" in proc.stderr or "Error:" in proc.stderr
    assert calls == []


def test_unreachable_broker_exits_2(script, tmp_path):
    proc, calls = run(script, tmp_path, "3", FAKE_LIST_RC="1")
    assert proc.returncode == 2
    assert "cannot reach the Kafka broker 10.0.0.9:9092" in proc.stderr
    assert [c for c in calls if c.startswith("produce")] == []


def test_failed_message_exits_3_and_stops(script, tmp_path):
    proc, calls = run(script, tmp_path, "5", FAKE_FAIL_AT="2")
    assert proc.returncode == 3
    assert "message #2 could not be sent" in proc.stderr
    assert len([c for c in calls if c.startswith("produce")]) == 2


def test_help_exits_0(script, tmp_path):
    proc = run(script, tmp_path, "-h")[0]
    assert proc.returncode == 0
    assert "Usage:" in proc.stderr
