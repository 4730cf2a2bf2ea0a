"""Helpers for the stand-in unit tests: an HTTP recorder, a protobuf encoder, promtool, CLI runs."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STANDINS = REPO / "tests" / "support" / "standins"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROMTOOL = REPO / "build" / "trixie" / "bin" / "promtool"


# ------------------------------------------------------------------ protobuf encoding (test side)
def pb_varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_key(number, wire):
    return pb_varint(number << 3 | wire)


def pb_len(number, payload):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return pb_key(number, 2) + pb_varint(len(payload)) + payload


def pb_uvarint(number, value):
    return pb_key(number, 0) + pb_varint(value)


def pb_fixed64(number, value):
    return pb_key(number, 1) + struct.pack("<Q", value)


def pb_sfixed64(number, value):
    return pb_key(number, 1) + struct.pack("<q", value)


def pb_double(number, value):
    return pb_key(number, 1) + struct.pack("<d", value)


def pb_fixed32(number, value):
    return pb_key(number, 5) + struct.pack("<I", value)


def pb_kv(key, string=None, integer=None):
    value = pb_len(1, string) if string is not None else pb_uvarint(3, integer)
    return pb_len(1, key) + pb_len(2, value)


# ------------------------------------------------------------------ an HTTP server that records
class Recorder:
    """Records every POST (path, headers, body); answers 200 (or self.status)."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.event = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                recorder.event.set()
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()
        self.url = "http://127.0.0.1:{0}".format(self.server.server_address[1])

    def json_bodies(self):
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.close()


# ------------------------------------------------------------------ promtool
def promtool_check_metrics(text):
    """Run `promtool check metrics` on an exposition; return (rc, output)."""
    if not PROMTOOL.exists():
        pytest.fail("{0} is missing: run `make deps`".format(PROMTOOL))
    proc = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


# ------------------------------------------------------------------ running a stand-in's CLI
class RunningStandin:
    def __init__(self, script, args, ready_prefix, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDINS / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, **(env or {})),
        )
        # the stand-in prints its ready line once it listens: readline() blocks until then
        line = self.proc.stdout.readline()
        if not line.startswith(ready_prefix):
            self.proc.kill()
            raise AssertionError("no ready line from {0}: {1!r} {2}".format(script, line, self.proc.stderr.read()))
        self.ready_line = line.strip()

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        return rc


@pytest.fixture
def run_standin():
    started = []

    def start(script, args, ready_prefix, env=None):
        running = RunningStandin(script, args, ready_prefix, env)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()
