"""Start a REAL Prometheus (Debian trixie's 2.53 build) for tests, and a scrape target to feed it.

    from tests.support.prometheus import MetricsTarget, running_prometheus, wait_for

    with MetricsTarget() as target, running_prometheus(
        tmp_path,
        scrape_configs=[{"job_name": "kafka", "static_configs": [{"targets": [target.address]}]}],
        rule_files={"kafka.yml": RULES_YAML},
    ) as prom:
        target.inc("kafka_message_count_total", by=50)
        wait_for(lambda: prom.value("kafka_message_count_total") == 50, timeout=20, what="the scrape")

- The binary is $PROMETHEUS_BIN, else build/trixie/bin/prometheus (`make deps`), else the
  one on PATH. Missing -> RuntimeError saying so (tests should let it fail: a skipped real
  component is a hole).
- It listens on a free 127.0.0.1 port; scrape and rule evaluation intervals default to 1 s so
  that alerts go pending -> firing within seconds.
- `start_prometheus()` returns once GET /-/ready answers 200 (polled with a deadline), and
  `Prometheus.stop()` sends SIGTERM and waits, then SIGKILL (tests/support/processes.py).
- `wait_for(predicate, timeout)` polls with a deadline; never sleep a fixed time.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.processes import stop_process

REPO = Path(__file__).resolve().parents[2]


def prometheus_binary(name="prometheus"):
    env = os.environ.get("%s_BIN" % name.upper())
    candidates = [env] if env else []
    candidates.append(str(REPO / "build" / "trixie" / "bin" / name))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(
        "%s not found: run `make deps` (it extracts Debian trixie's build into build/trixie/bin) or set %s_BIN"
        % (name, name.upper())
    )


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, interval=0.1, what="the condition"):
    """Poll predicate() until it returns a truthy value (returned) or raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the thing waited for may not answer yet
            last_exc = exc
        if time.monotonic() >= deadline:
            suffix = " (last error: %r)" % last_exc if last_exc else ""
            raise TimeoutError("%s did not happen within %s s%s" % (what, timeout, suffix))
        time.sleep(interval)


def _yaml(doc):
    # JSON is YAML: no PyYAML needed to write Prometheus' config
    return json.dumps(doc, indent=2)


class Prometheus:
    def __init__(self, process, port, workdir, config_path, log_path):
        self.process = process
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.workdir = Path(workdir)
        self.config_path = Path(config_path)
        self.log_path = Path(log_path)

    # ------------------------------------------------------------ HTTP API
    def api(self, path, params=None, method="GET", timeout=10):
        url = self.url + path
        data = None
        if params and method == "GET":
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        elif params:
            data = urllib.parse.urlencode(params, doseq=True).encode()
        request = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body.strip().startswith(b"{") else body.decode()

    def query(self, expr):
        """The vector result of an instant query: [{metric, value: [ts, "v"]}]."""
        return self.api("/api/v1/query", {"query": expr})["data"]["result"]

    def value(self, expr):
        """The value of a one-series instant query as float, None if no series."""
        result = self.query(expr)
        if not result:
            return None
        return float(result[0]["value"][1])

    def alerts(self):
        return self.api("/api/v1/alerts")["data"]["alerts"]

    def alert_state(self, name, labels=None):
        """'firing', 'pending' or 'inactive' for the alert name whose labels include labels."""
        states = [
            a["state"]
            for a in self.alerts()
            if a["labels"].get("alertname") == name and all(a["labels"].get(k) == v for k, v in (labels or {}).items())
        ]
        return "firing" if "firing" in states else "pending" if "pending" in states else "inactive"

    def rules(self):
        return self.api("/api/v1/rules")["data"]["groups"]

    def targets_up(self):
        active = self.api("/api/v1/targets")["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def ready(self):
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def reload(self, timeout=15):
        """POST /-/reload (needs --web.enable-lifecycle, which start_prometheus sets)."""
        self.api("/-/reload", method="POST", timeout=timeout)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout=15):
        stop_process(self.process, timeout=timeout, name="prometheus")


def write_config(
    workdir, *, scrape_configs=None, rule_files=None, scrape_interval="1s", evaluation_interval="1s", extra=None
):
    """Write prometheus.yml (and the rule files, given as {name: yaml text} or paths) into workdir."""
    workdir = Path(workdir)
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    rule_paths = []
    if isinstance(rule_files, dict):
        for name, text in rule_files.items():
            path = rules_dir / name
            path.write_text(text if isinstance(text, str) else _yaml(text))
            rule_paths.append(str(path))
    else:
        rule_paths.extend(str(p) for p in rule_files or [])
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": rule_paths,
        "scrape_configs": list(scrape_configs or []),
    }
    config.update(extra or {})
    path = workdir / "prometheus.yml"
    path.write_text(_yaml(config))
    return path


def start_prometheus(
    workdir,
    *,
    scrape_configs=None,
    rule_files=None,
    scrape_interval="1s",
    evaluation_interval="1s",
    extra_config=None,
    extra_args=(),
    port=None,
    ready_timeout=60,
):
    """Start a real Prometheus on 127.0.0.1 and return it once /-/ready answers 200."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = write_config(
        workdir,
        scrape_configs=scrape_configs,
        rule_files=rule_files,
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
        extra=extra_config,
    )
    binary = prometheus_binary()
    check = (
        subprocess.run(
            [prometheus_binary("promtool"), "check", "config", str(config_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if _has_promtool()
        else None
    )
    if check is not None and check.returncode != 0:
        raise RuntimeError("promtool rejects the test's Prometheus config:\n%s%s" % (check.stdout, check.stderr))
    port = port or free_port()
    log_path = workdir / "prometheus.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            binary,
            "--config.file=%s" % config_path,
            "--storage.tsdb.path=%s" % (workdir / "data"),
            "--web.listen-address=127.0.0.1:%d" % port,
            "--web.enable-lifecycle",
            "--log.level=info",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    log.close()
    prom = Prometheus(process, port, workdir, config_path, log_path)

    def _ready():
        if process.poll() is not None:
            raise RuntimeError("prometheus exited with %s:\n%s" % (process.returncode, prom.log()[-3000:]))
        return prom.ready()

    try:
        deadline = time.monotonic() + ready_timeout
        while not _ready():
            if time.monotonic() > deadline:
                raise TimeoutError("prometheus not ready within %s s:\n%s" % (ready_timeout, prom.log()[-3000:]))
            time.sleep(0.05)
    except BaseException:
        prom.stop()
        raise
    return prom


def _has_promtool():
    try:
        prometheus_binary("promtool")
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def running_prometheus(workdir, **kwargs):
    prom = start_prometheus(workdir, **kwargs)
    try:
        yield prom
    finally:
        prom.stop()


# ---------------------------------------------------------------- a scrape target
def _labels_key(labels):
    return tuple(sorted((labels or {}).items()))


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class MetricsTarget:
    """A tiny Prometheus exposition endpoint (GET /metrics) whose values the test sets.

    target.inc("kafka_request_count_total", {"type": "produce"}, by=3)
    target.set("kafka_partition_count", 3, kind="gauge")
    target.remove("kafka_partition_count")          # the series disappears from the scrape
    target.address                                  # "127.0.0.1:PORT" for static_configs

    Over HTTP: GET /metrics (the exposition), POST /inc?name=<metric>&by=<n>&label.<l>=<v>.
    """

    def __init__(self, host="127.0.0.1", port=0):
        self._lock = threading.Lock()
        self._metrics = {}  # name -> {"kind": ..., "help": ..., "series": {labels_key: value}}
        self.scrapes = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/metrics":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = target.render().encode()
                with target._lock:
                    target.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                # POST /inc?name=<metric>&by=<n>&label.<name>=<value>: lets a playbook under test
                # "produce" (uri module) without a broker
                parsed = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(parsed.query))
                if parsed.path != "/inc" or "name" not in params:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                labels = {k[6:]: v for k, v in params.items() if k.startswith("label.")}
                value = target.inc(params["name"], labels, float(params.get("by", 1)))
                body = json.dumps({"name": params["name"], "labels": labels, "value": value}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-target", daemon=True)
        self._thread.start()
        self.address = "%s:%d" % self._server.server_address[:2]
        self.url = "http://%s/metrics" % self.address

    def set(self, name, value, labels=None, kind="counter", help_text=None):
        with self._lock:
            metric = self._metrics.setdefault(name, {"kind": kind, "help": help_text or name, "series": {}})
            metric["series"][_labels_key(labels)] = float(value)

    def inc(self, name, labels=None, by=1.0, kind="counter"):
        with self._lock:
            metric = self._metrics.setdefault(name, {"kind": kind, "help": name, "series": {}})
            key = _labels_key(labels)
            metric["series"][key] = metric["series"].get(key, 0.0) + float(by)
            return metric["series"][key]

    def get(self, name, labels=None):
        with self._lock:
            return self._metrics.get(name, {"series": {}})["series"].get(_labels_key(labels))

    def remove(self, name, labels=None):
        """Remove one series (labels given) or the whole metric."""
        with self._lock:
            if labels is None:
                self._metrics.pop(name, None)
            elif name in self._metrics:
                self._metrics[name]["series"].pop(_labels_key(labels), None)

    def render(self):
        lines = []
        with self._lock:
            for name, metric in sorted(self._metrics.items()):
                lines.append("# HELP %s %s" % (name, metric["help"]))
                lines.append("# TYPE %s %s" % (name, metric["kind"]))
                for key, value in sorted(metric["series"].items()):
                    labels = ",".join('%s="%s"' % (k, _escape(v)) for k, v in key)
                    lines.append("%s%s %s" % (name, "{%s}" % labels if labels else "", repr(value)))
        return "\n".join(lines) + "\n"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
