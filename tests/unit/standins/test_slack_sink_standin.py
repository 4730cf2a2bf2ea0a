"""Slack incoming-webhook stand-in: Slack's answers, the record file, GET/DELETE /messages."""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.support.standins import slack_sink_standin as slack

# what Alertmanager's slack_configs post (trimmed): attachments with title/text/color
ALERTMANAGER_MESSAGE = {
    "channel": "#alerts",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[FIRING:1] KafkaContainerDown (kafka critical)",
            "text": "Le conteneur kafka ne répond plus",
            "color": "danger",
            "fallback": "[FIRING:1] KafkaContainerDown",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}
WEBHOOK_PATH = "/services/T000LAB/B000LAB/lab"


@pytest.fixture
def sink(tmp_path):
    record = tmp_path / "messages.jsonl"
    server = slack.make_server("127.0.0.1:0", slack.MessageLog(str(record)))
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    yield "http://127.0.0.1:{0}".format(server.server_address[1]), record
    server.shutdown()
    server.server_close()


def _call(url, method="GET", body=None, content_type="application/json"):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_records_alertmanager_posts_and_answers_like_slack(sink):
    url, record = sink
    status, headers, body = _call(url + WEBHOOK_PATH, "POST", json.dumps(ALERTMANAGER_MESSAGE).encode())
    assert (status, body) == (200, "ok")
    assert "Slack incoming-webhook stand-in" in headers["Server"]
    status, _headers, body = _call(url + "/messages")
    (message,) = json.loads(body)
    assert message["seq"] == 1
    assert message["path"] == WEBHOOK_PATH
    assert message["payload"] == ALERTMANAGER_MESSAGE
    (line,) = record.read_text().splitlines()
    assert json.loads(line) == message


def test_slack_errors(sink):
    url, record = sink
    assert _call(url + WEBHOOK_PATH, "POST", b"not json")[::2] == (400, "invalid_payload")
    assert _call(url + WEBHOOK_PATH, "POST", b"[1, 2]")[::2] == (400, "invalid_payload")
    assert _call(url + WEBHOOK_PATH, "POST", b'{"channel": "#x"}')[::2] == (400, "no_text")
    assert not record.exists() or record.read_text() == ""


def test_form_payload_filters_and_delete(sink):
    url, _record = sink
    form = urllib.parse.urlencode({"payload": json.dumps({"text": "hello"})}).encode()
    assert _call(url + "/services/A/B/C", "POST", form, "application/x-www-form-urlencoded")[::2] == (200, "ok")
    assert _call(url + WEBHOOK_PATH, "POST", json.dumps({"text": "second"}).encode())[0] == 200
    everything = json.loads(_call(url + "/messages")[2])
    assert [m["payload"]["text"] for m in everything] == ["hello", "second"]
    only = json.loads(_call(url + "/messages?path=" + urllib.parse.quote(WEBHOOK_PATH))[2])
    assert [m["payload"]["text"] for m in only] == ["second"]
    later = json.loads(_call(url + "/messages?since={0}".format(everything[1]["received_at"]))[2])
    assert [m["seq"] for m in later] == [2]
    assert _call(url + "/messages?since=yesterday")[0] == 400
    assert _call(url + "/messages", "DELETE")[0] == 200
    assert json.loads(_call(url + "/messages")[2]) == []
    assert _call(url + "/healthz")[::2] == (200, "ok")


def test_history_survives_a_restart(tmp_path):
    path = str(tmp_path / "m.jsonl")
    first = slack.MessageLog(path)
    first.add("/p", "Alertmanager/0.28.1", {"text": "one"})
    first.add("/p", "Alertmanager/0.28.1", {"text": "two"})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{corrupt\n")
    second = slack.MessageLog(path)
    assert [r["payload"]["text"] for r in second.query()] == ["one", "two"]
    assert second.add("/p", "", {"text": "three"})["seq"] == 3


def test_cli(run_standin, tmp_path):
    running = run_standin(
        "slack_sink_standin.py",
        ["--listen", "127.0.0.1:0", "--record", str(tmp_path / "r.jsonl")],
        "slack sink stand-in ready:",
    )
    url = running.ready_line.split()[-1]
    assert _call(url + WEBHOOK_PATH, "POST", json.dumps({"text": "x"}).encode())[::2] == (200, "ok")
    assert running.stop() == 0
    assert "message #1 on " + WEBHOOK_PATH in running.stderr
    assert json.loads((tmp_path / "r.jsonl").read_text())["payload"] == {"text": "x"}
