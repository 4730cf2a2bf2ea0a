"""Log-shipper stand-in: journal entries -> Loki push, batching, retries, cursor resume (fake journalctl)."""

import json
import sys
import textwrap
import threading
import time

import pytest

from tests.support.standins import log_shipper_standin as shipper_mod

FAKE_JOURNALCTL = textwrap.dedent(
    """\
    #!{python}
    # fake journalctl: records its argv, prints the entries after --after-cursor, then follows (blocks)
    import json, signal, sys
    args = sys.argv[1:]
    with open({argv_log!r}, "a") as handle:
        handle.write(json.dumps(args) + "\\n")
    entries = [json.loads(line) for line in open({entries!r})]
    after = next((a.split("=", 1)[1] for a in args if a.startswith("--after-cursor=")), None)
    if after is not None:
        entries = entries[[e["__CURSOR"] for e in entries].index(after) + 1:]
    for entry in entries:
        print(json.dumps(entry), flush=True)
    sys.stdin.close()
    signal.pause()  # --follow: waits for more entries until terminated
    """
)


def _entry(n, message, container=True):
    entry = {
        "__CURSOR": "s=abc;i={0}".format(n),
        "__REALTIME_TIMESTAMP": str(1_795_000_000_000_000 + n),
        "_SYSTEMD_USER_UNIT": "kafka.service",
        "MESSAGE": message,
    }
    if container:
        entry["CONTAINER_NAME"] = "kafka"
    return entry


@pytest.fixture
def journal(tmp_path):
    entries = tmp_path / "entries.jsonl"
    argv_log = tmp_path / "argv.jsonl"
    script = tmp_path / "journalctl"
    script.write_text(FAKE_JOURNALCTL.format(python=sys.executable, argv_log=str(argv_log), entries=str(entries)))
    script.chmod(0o755)
    return {"entries": entries, "argv": argv_log, "script": str(script), "state": str(tmp_path / "state" / "cursor")}


def _wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)  # polling interval of a deadline-bounded wait
    return False


def _run(journal, url, **kwargs):
    shipper = shipper_mod.Shipper(
        url,
        "kafka.service",
        {"job": "kafka", "host": "broker"},
        state_file=journal["state"],
        journalctl=journal["script"],
        batch_wait=0.2,
        **kwargs,
    )
    thread = threading.Thread(target=shipper.run, daemon=True)
    thread.start()
    return shipper, thread


def _values(recorder):
    out = []
    for body in recorder.json_bodies():
        for stream in body["streams"]:
            out.extend((stream["stream"].get("container"), v[0], v[1]) for v in stream["values"])
    return out


def test_to_streams_labels_lines_and_timestamps():
    entries = [
        _entry(1, "tansu broker 0.6.0\n"),  # podman's journald driver keeps the newline
        _entry(2, [104, 105, 0xFF]),  # non-UTF-8 message: journalctl writes bytes
        _entry(3, "Started kafka.service", container=False),
        {"__CURSOR": "x"},  # no MESSAGE: skipped
    ]
    body = shipper_mod.to_streams(entries, {"job": "kafka"}, "kafka.service")
    streams = {tuple(sorted(s["stream"].items())): s["values"] for s in body["streams"]}
    assert streams == {
        (("container", "kafka"), ("job", "kafka"), ("unit", "kafka.service")): [
            ["1795000000000001000", "tansu broker 0.6.0"],
            ["1795000000000002000", "hi\ufffd"],
        ],
        (("job", "kafka"), ("unit", "kafka.service")): [["1795000000000003000", "Started kafka.service"]],
    }


def test_ships_follows_and_resumes_after_the_saved_cursor(journal, recorder):
    journal["entries"].write_text("".join(json.dumps(_entry(n, "line {0}".format(n))) + "\n" for n in (1, 2, 3)))
    shipper, thread = _run(journal, recorder.url + "/loki/api/v1/push")
    assert _wait_for(lambda: len(_values(recorder)) == 3), _values(recorder)
    assert _wait_for(lambda: shipper.last_cursor == "s=abc;i=3")
    shipper.stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    first_argv = json.loads(journal["argv"].read_text().splitlines()[0])
    assert first_argv == ["--user-unit=kafka.service", "--output=json", "--follow", "--no-pager", "--lines=all"]
    assert [v[2] for v in _values(recorder)] == ["line 1", "line 2", "line 3"]
    assert recorder.requests[0]["path"] == "/loki/api/v1/push"
    assert recorder.requests[0]["headers"]["Content-Type"] == "application/json"
    with open(journal["state"], encoding="utf-8") as handle:
        assert handle.read().strip() == "s=abc;i=3"

    # a restart resumes after the cursor: only the new entry is shipped
    with open(journal["entries"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(_entry(4, "line 4")) + "\n")
    shipper, thread = _run(journal, recorder.url + "/loki/api/v1/push")
    assert _wait_for(lambda: len(_values(recorder)) == 4)
    shipper.stop.set()
    thread.join(timeout=10)
    assert json.loads(journal["argv"].read_text().splitlines()[1])[-1] == "--after-cursor=s=abc;i=3"
    assert [v[2] for v in _values(recorder)] == ["line 1", "line 2", "line 3", "line 4"]


def test_a_failed_push_is_retried_not_dropped(journal, recorder):
    journal["entries"].write_text(json.dumps(_entry(1, "only line")) + "\n")
    recorder.status = 500
    shipper, thread = _run(journal, recorder.url + "/loki/api/v1/push")
    assert _wait_for(lambda: len(recorder.requests) >= 2)  # refused, then retried
    assert shipper.last_cursor is None  # nothing acknowledged yet
    recorder.status = 204
    assert _wait_for(lambda: shipper.last_cursor == "s=abc;i=1")
    shipper.stop.set()
    thread.join(timeout=10)
    bodies = [json.loads(r["body"]) for r in recorder.requests]
    assert all(b == bodies[0] for b in bodies)  # the same batch each time


def test_cli_rejects_bad_labels(capsys):
    with pytest.raises(SystemExit):
        shipper_mod.main(["--loki-url", "http://x", "--label", "novalue"])
    assert "--label wants k=v" in capsys.readouterr().err
