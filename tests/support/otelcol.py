"""The REAL OpenTelemetry Collector for tests: one otelcol-dojo process with a configuration of the test's.

    from tests.support.otelcol import running_collector

    with running_collector(
        tmp_path,
        exporters={"otlphttp": {"endpoint": sink_url, "encoding": "json"}},
        pipelines={"traces": ["otlphttp"]},
    ) as collector:
        collector.otlp_url     # "http://127.0.0.1:<port>": its OTLP/HTTP receiver
        collector.log()        # what it printed

The binary is the `otelcol` artifact built with the Collector Builder (tests/support/artifacts.py,
`artifacts.ensure("otelcol")`). The test gives the exporters and, per pipeline (traces, logs,
metrics), their names; the rest is the same for every test: the otlp receiver (HTTP) on a free
127.0.0.1 port, the batch processor (200 ms), the health_check extension on another free port,
and no internal metrics server (it would take :8888, which another collector may hold).
`start_collector()` returns once the health_check answers 200 (polled with a deadline; a collector
that exits meanwhile fails at once with the end of its log); `stop()` is SIGTERM, then SIGKILL
(tests/support/processes.py). Standard library only.
"""

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:
    sys.path.insert(0, str(HERE.parents[1]))

from tests.support import artifacts  # noqa: E402
from tests.support.kafka import free_ports  # noqa: E402
from tests.support.processes import stop_process  # noqa: E402

BATCH_TIMEOUT = "200ms"


class CollectorError(RuntimeError):
    pass


def collector_binary():
    """The otelcol-dojo binary of the artifact cache (built first when it is not cached)."""
    binary = artifacts.ensure("otelcol") / "otelcol-dojo"
    if not binary.is_file():
        raise CollectorError("{0} is missing: run tests/support/artifacts.py build otelcol".format(binary))
    return binary


def collector_config(otlp_address, health_address, exporters, pipelines, processors=None):
    """The configuration: otlp (HTTP) in, the batch processor (or `processors`), the given exporters,
    and one pipeline per entry of `pipelines` ({"traces": ["otlphttp"], ...})."""
    processors = processors if processors is not None else {"batch": {"timeout": BATCH_TIMEOUT}}
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": otlp_address}}}},
        "processors": processors,
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": health_address}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                name: {"receivers": ["otlp"], "processors": list(processors), "exporters": list(names)}
                for name, names in pipelines.items()
            },
            # no internal metrics server: it would take :8888, which another collector may hold
            "telemetry": {"metrics": {"level": "none"}},
        },
    }


class Collector:
    """One running otelcol-dojo: `otlp_url` (its OTLP/HTTP receiver), `health_url`, `config`, `log()`."""

    def __init__(self, process, workdir, *, config, otlp_url, health_url, log_path):
        self.process = process
        self.workdir = Path(workdir)
        self.config = config
        self.otlp_url = otlp_url
        self.health_url = health_url
        self.log_path = Path(log_path)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def healthy(self):
        """True once the health_check answers 200; raises CollectorError when the process has exited."""
        if self.process.poll() is not None:
            raise CollectorError(
                "the collector exited (rc {0}) before its health_check answered; its log ends with:\n{1}".format(
                    self.process.returncode, self.log()[-2000:]
                )
            )
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def send(self, signal_path, body, timeout=10):
        """POST an OTLP/JSON export request to the receiver, as an SDK does; return its JSON answer."""
        request = urllib.request.Request(
            self.otlp_url + signal_path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 200:
                raise CollectorError("the collector answered HTTP {0} to {1}".format(response.status, signal_path))
            return json.loads(response.read() or b"{}")

    def stop(self, timeout=15):
        return stop_process(self.process, timeout=timeout, name="otelcol")


def start_collector(workdir, exporters, pipelines, *, processors=None, binary=None, ready_timeout=30.0):
    """Write the configuration into `workdir`, start the collector, return it once healthy."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    otlp_port, health_port = free_ports(2)
    otlp_address = "127.0.0.1:{0}".format(otlp_port)
    health_address = "127.0.0.1:{0}".format(health_port)
    config = collector_config(otlp_address, health_address, exporters, pipelines, processors)
    config_path = workdir / "otelcol.yaml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = workdir / "otelcol.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary or collector_binary()), "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    collector = Collector(
        process,
        workdir,
        config=config,
        otlp_url="http://" + otlp_address,
        health_url="http://{0}/".format(health_address),
        log_path=log_path,
    )
    print(
        "==> otelcol: waiting up to {0:g} s for its health_check {1} to answer 200".format(
            ready_timeout, collector.health_url
        )
    )
    limit = time.monotonic() + ready_timeout
    delay = 0.05
    try:
        while not collector.healthy():
            if time.monotonic() >= limit:
                raise CollectorError(
                    "the collector's health_check {0} did not answer 200 within {1:g} s; its log ends "
                    "with:\n{2}".format(collector.health_url, ready_timeout, collector.log()[-2000:])
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
    except BaseException:
        collector.stop()
        raise
    return collector


@contextlib.contextmanager
def running_collector(workdir, exporters, pipelines, **kwargs):
    """Context manager around start_collector(): the collector is stopped on exit."""
    collector = start_collector(workdir, exporters, pipelines, **kwargs)
    try:
        yield collector
    finally:
        collector.stop()
