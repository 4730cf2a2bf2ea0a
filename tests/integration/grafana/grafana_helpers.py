"""Helpers of the Grafana module integration tests (fixtures are in conftest.py).

Real parts: a REAL Prometheus 2.53 (Debian trixie build) scraping a real HTTP exposition
target every second and evaluating real alert rules; the modules run through real Ansible
(run_module/run_playbook). Stand-ins: Grafana, Loki and Tempo only
(tests/support/standins/grafana_standin.py), Grafana's proxy forwarding to the real Prometheus.
"""

import base64
import json
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.ansible_run import run_module, run_playbook

COLLECTIONS = Path(__file__).resolve().parents[3] / "build" / "collections"
if str(COLLECTIONS) not in sys.path:  # to call module_utils directly in a few tests
    sys.path.insert(0, str(COLLECTIONS))

TOKEN = "glsa_dojoTestToken_" + secrets.token_hex(12)
VIEWER_TOKEN = "glsa_dojoViewerToken_" + secrets.token_hex(12)
ADMIN_PASSWORD = "pw-" + secrets.token_hex(10)
SECRETS = (
    TOKEN,
    VIEWER_TOKEN,
    ADMIN_PASSWORD,
    base64.b64encode(("admin:" + ADMIN_PASSWORD).encode()).decode(),
)

RULES = """
groups:
  - name: dojo-test
    rules:
      - alert: DojoTestAlert
        expr: dojo_test_trigger > 0
        for: 2s
        labels:
          severity: critical
          service: kafka
        annotations:
          summary: trigger {{ $labels.case }} is up
      - alert: DojoSlowAlert
        expr: dojo_slow_trigger > 0
        for: 8s
        labels:
          severity: warning
      - alert: DojoPendingForever
        expr: dojo_pending_trigger > 0
        for: 1h
        labels:
          severity: info
"""


class SilentServer:
    """Accepts TCP connections (the kernel does) and never answers: for timeouts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def stack_config(prometheus_url, silent_url, closed_port):
    return {
        "grafana": {
            "tokens": [
                {"token": TOKEN, "role": "Admin", "org_id": 1},
                {"token": VIEWER_TOKEN, "role": "Viewer", "org_id": 1},
            ],
            "users": [{"login": "admin", "password": ADMIN_PASSWORD, "role": "Admin", "orgs": [1, 2]}],
            "proxy_timeout": 1.5,
            "datasources": [
                {"uid": "thanos", "name": "Thanos", "type": "prometheus", "url": prometheus_url, "isDefault": True},
                {"uid": "loki", "name": "Loki", "type": "loki", "url": "{loki_url}"},
                {"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "{tempo_url}"},
                {
                    "uid": "down",
                    "name": "Prometheus down",
                    "type": "prometheus",
                    "url": "http://127.0.0.1:%d" % closed_port,
                },
                {"uid": "slow", "name": "Prometheus slow", "type": "prometheus", "url": silent_url},
                {"uid": "es", "name": "Elastic", "type": "elasticsearch", "url": "http://127.0.0.1:%d" % closed_port},
                {"uid": "thanos-org2", "name": "Thanos", "type": "prometheus", "url": prometheus_url, "orgId": 2},
            ],
        },
        "loki": {},
        "tempo": {"otlp_listen": "127.0.0.1:0"},
    }


def assert_clean(text):
    """No secret and no Python traceback in what Ansible printed."""
    for secret in SECRETS:
        assert secret not in text, "a secret leaked into the output"
    assert "Traceback (most recent call last)" not in text


def run(name, args, check=False, env=None):
    """run_module() + the checks every run gets: no secret, no traceback, one-line msg."""
    result = run_module(name, args, check=check, env=env)
    assert_clean(result.output)
    if result.failed:
        msg = result.result.get("msg", "")
        assert msg, result.result
        assert "\n" not in msg
    return result


def play(tmp_path, tasks, extra_vars=None, env=None, args=()):
    """Run a localhost playbook made of tasks; return the CompletedProcess (output checked clean)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = run_playbook(playbook, inventory="localhost,", extra_vars=extra_vars, env=env, args=("-c", "local", *args))
    assert_clean(proc.stdout + proc.stderr)
    return proc


def push_logs(loki_url, labels, lines, at_ns=None):
    """Ship lines through Loki's real push API (JSON), timestamps now unless at_ns."""
    base = at_ns or time.time_ns()
    body = {"streams": [{"stream": labels, "values": [[str(base + i), line] for i, line in enumerate(lines)]}]}
    request = urllib.request.Request(
        loki_url + "/loki/api/v1/push",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def push_trace(otlp_url, service, name, *, attributes=None, duration_ms=5, at_ns=None):
    """Ship one span (a one-span trace) through Tempo's OTLP/HTTP JSON API; return its trace id."""
    trace_id = secrets.token_hex(16)
    start = at_ns or time.time_ns()
    attrs = [{"key": k, "value": {"stringValue": str(v)}} for k, v in (attributes or {}).items()]
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "dojo-test"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": secrets.token_hex(8),
                                "name": name,
                                "kind": 4,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(start + duration_ms * 10**6),
                                "attributes": attrs,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    request = urllib.request.Request(
        otlp_url + "/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return trace_id


def push_span(otlp_url, trace_id, service, name, *, kind=4, parent=None, start_ns=None, error=False):
    """Ship one span of an existing or new trace through Tempo's OTLP/HTTP JSON API; return its span id."""
    span_id = secrets.token_hex(8)
    start = start_ns or time.time_ns()
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 3 * 10**6),
        "status": {"code": 2} if error else {},
    }
    if parent:
        span["parentSpanId"] = parent
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "dojo-test"}, "spans": [span]}],
            }
        ]
    }
    request = urllib.request.Request(
        otlp_url + "/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return span_id


def proxied_queries(stack, fragment):
    """How many requests Grafana's proxy got whose path contains fragment."""
    return sum(1 for _method, path in list(stack.grafana.requests) if "/proxy/" in path and fragment in path)


KAFKA_CGROUP = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"
CGROUPS = [
    "/",
    "/system.slice",
    "/system.slice/sshd.service",
    "/user.slice",
    "/user.slice/user-1000.slice",
    "/user.slice/user-1000.slice/user@1000.service",
    "/user.slice/user-1000.slice/user@1000.service/app.slice",
    "/user.slice/user-1000.slice/user@1000.service/app.slice/cadvisor.service",
    KAFKA_CGROUP,
]


class CadvisorLikeExporter:
    """GET /metrics as cAdvisor v0.52 writes it for a rootless Quadlet host: per cgroup `id`, container_last_seen
    (the time of the scrape), container_cpu_usage_seconds_total and container_memory_working_set_bytes, each
    sample with an explicit timestamp. `stop(id)` makes a cgroup's series disappear, as when its container stops."""

    def __init__(self, cgroups=None):
        self.cgroups = list(CGROUPS if cgroups is None else cgroups)
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = exporter.render().encode() if self.path.split("?")[0] == "/metrics" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="cadvisor-like", daemon=True)
        self._thread.start()
        self.address = "%s:%d" % self._server.server_address[:2]

    def stop(self, cgroup):
        with self._lock:
            self.cgroups.remove(cgroup)

    def render(self):
        now = time.time()
        ms = int(now * 1000)
        lines = [
            "# HELP container_last_seen Last time a container was seen by the exporter",
            "# TYPE container_last_seen gauge",
        ]
        with self._lock:
            cgroups = list(self.cgroups)
        for cgroup in cgroups:
            name = cgroup.rsplit("/", 1)[-1].replace(".service", "") if cgroup.endswith(".service") else ""
            lines.append('container_last_seen{id="%s",image="",name="%s"} %.3f %d' % (cgroup, name, now, ms))
        lines.append("# TYPE container_cpu_usage_seconds_total counter")
        lines += ['container_cpu_usage_seconds_total{cpu="total",id="%s"} 12.5 %d' % (c, ms) for c in cgroups]
        lines.append("# TYPE container_memory_working_set_bytes gauge")
        lines += ['container_memory_working_set_bytes{id="%s"} 1.2e+08 %d' % (c, ms) for c in cgroups]
        return "\n".join(lines) + "\n"

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class RulesHidingProxy:
    """A Prometheus without the rules API: forwards every GET to a real Prometheus except api/v1/rules, which
    answers Go's 404 page not found (as a query layer that serves queries and alerts but not rules does)."""

    def __init__(self, prometheus_url):
        target = prometheus_url.rstrip("/")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0].rstrip("/") == "/api/v1/rules":
                    status, body, ctype = 404, b"404 page not found\n", "text/plain; charset=utf-8"
                else:
                    try:
                        with urllib.request.urlopen(target + self.path, timeout=10) as response:
                            status, body = response.status, response.read()
                            ctype = response.headers.get("Content-Type", "application/json")
                    except urllib.error.HTTPError as exc:
                        status, body, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "text/plain")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="rules-hiding", daemon=True)
        self._thread.start()
        self.url = "http://%s:%d" % self._server.server_address[:2]

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
