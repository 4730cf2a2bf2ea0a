"""Slack incoming-webhook stand-in (a sink): test support, NOT product.

Slack cannot be reached from where this collection is tested. Alertmanager's
``slack_configs`` POST a JSON message to ``api_url`` (a Slack incoming-webhook URL such as
``https://hooks.slack.com/services/T../B../...``); in the lab ``api_url`` points here
instead. This stand-in answers like Slack's incoming webhooks and records every message so
tests can assert what Alertmanager sent, and when. Python standard library only.

Contract
========
- ``POST <any path>`` (e.g. ``/services/T000LAB/B000LAB/lab``) with ``Content-Type:
  application/json`` (or a form with a ``payload=<json>`` field, which Slack also accepts):
  200 ``ok`` (text/html, as Slack). A body that is not a JSON object -> 400
  ``invalid_payload``; a message with none of ``text``, ``attachments``, ``blocks`` -> 400
  ``no_text`` (Slack's answers). Accepted messages are appended to ``--record`` as JSON lines:
  ``{"seq", "received_at" (unix s), "path", "user_agent", "payload"}``.
- ``GET /messages`` -> JSON list of the records (oldest first); ``?since=<unix s>`` keeps
  those received at or after it, ``?path=<path>`` those posted to that path.
- ``DELETE /messages`` -> forget all records (the file is truncated).
- ``GET /healthz`` -> ``ok``.

Records already in ``--record`` are loaded at start, so a restart keeps the history.

CLI: ``python3 slack_sink_standin.py [--listen 0.0.0.0:8099] [--record slack-messages.jsonl]``;
prints ``slack sink stand-in ready: http://H:P`` when listening; SIGTERM/SIGINT stop it.
"""

import argparse
import json
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STANDIN_NAME = "slack-sink-standin"
SERVER_HEADER = "slack-sink-standin/1.0 (Slack incoming-webhook stand-in)"


def log(message):
    sys.stderr.write("{0} {1}: {2}\n".format(time.strftime("%Y-%m-%dT%H:%M:%S"), STANDIN_NAME, message))
    sys.stderr.flush()


class MessageLog:
    """Records in memory, mirrored to a JSON-lines file."""

    def __init__(self, path=None, clock=time.time):
        self.path = path
        self.clock = clock
        self.lock = threading.Lock()
        self.records = []
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    for raw in handle:
                        text = raw.strip()
                        if text:
                            try:
                                self.records.append(json.loads(text))
                            except ValueError:
                                log("skipping a corrupt line of {0}".format(path))
            except FileNotFoundError:
                pass

    def add(self, path, user_agent, payload):
        with self.lock:
            record = {
                "seq": (self.records[-1]["seq"] + 1) if self.records else 1,
                "received_at": self.clock(),
                "path": path,
                "user_agent": user_agent,
                "payload": payload,
            }
            self.records.append(record)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, sort_keys=True) + "\n")
            return record

    def query(self, since=None, path=None):
        with self.lock:
            return [
                r
                for r in self.records
                if (since is None or r["received_at"] >= since) and (path is None or r["path"] == path)
            ]

    def clear(self):
        with self.lock:
            self.records = []
            if self.path:
                with open(self.path, "w", encoding="utf-8"):
                    pass


def parse_payload(body, content_type):
    """The Slack message in a webhook POST, or raise ValueError('invalid_payload')."""
    text = body.decode("utf-8")
    if content_type == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(text)
        if "payload" not in fields:
            raise ValueError("invalid_payload")
        text = fields["payload"][0]
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise ValueError("invalid_payload") from exc
    if not isinstance(payload, dict):
        raise ValueError("invalid_payload")
    return payload


class Handler(BaseHTTPRequestHandler):
    server_version = SERVER_HEADER
    sys_version = ""
    protocol_version = "HTTP/1.1"
    messages = None
    verbose = False

    def log_message(self, format, *args):  # BaseHTTPRequestHandler signature
        if self.verbose:
            log("{0} {1}".format(self.address_string(), format % args))

    def _send(self, status, body, content_type="text/html"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(self.path).path
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            payload = parse_payload(body, content_type)
        except (ValueError, UnicodeDecodeError):
            self._send(400, "invalid_payload")
            return
        if not any(payload.get(key) for key in ("text", "attachments", "blocks")):
            self._send(400, "no_text")
            return
        record = self.messages.add(path, self.headers.get("User-Agent", ""), payload)
        log("message #{0} on {1}".format(record["seq"], path))
        self._send(200, "ok")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, "ok", "text/plain; charset=utf-8")
            return
        if url.path != "/messages":
            self._send(404, "not found", "text/plain; charset=utf-8")
            return
        query = urllib.parse.parse_qs(url.query)
        try:
            since = float(query["since"][0]) if "since" in query else None
        except ValueError:
            self._send(400, '{"error": "since must be a unix time"}', "application/json")
            return
        path = query["path"][0] if "path" in query else None
        body = json.dumps(self.messages.query(since=since, path=path), indent=1, sort_keys=True)
        self._send(200, body, "application/json")

    do_HEAD = do_GET

    def do_DELETE(self):
        if urllib.parse.urlsplit(self.path).path != "/messages":
            self._send(404, "not found", "text/plain; charset=utf-8")
            return
        self.messages.clear()
        self._send(200, "[]", "application/json")


def set_process_title(title):
    """Name the process (comm, seen by ps/top) after the stand-in; best effort."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, title.encode("ascii")[:15], 0, 0, 0)  # PR_SET_NAME
    except (ImportError, OSError, AttributeError):
        pass


def make_server(listen, messages, verbose=False):
    host, _sep, port = listen.rpartition(":")
    handler = type("BoundHandler", (Handler,), {"messages": messages, "verbose": verbose})
    server = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), handler)
    server.daemon_threads = True
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description="Slack incoming-webhook stand-in (records what it receives)")
    parser.add_argument("--listen", default="0.0.0.0:8099")
    parser.add_argument("--record", help="JSON-lines file the messages are appended to")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    set_process_title(STANDIN_NAME)
    server = make_server(args.listen, MessageLog(args.record), args.verbose)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, name=STANDIN_NAME, daemon=True).start()
    host, port = server.server_address[:2]
    print("slack sink stand-in ready: http://{0}:{1}".format(host, port))
    sys.stdout.flush()
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
