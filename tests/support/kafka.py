"""Start a real Apache Kafka broker (KRaft, one node that is broker and controller) for tests.

    with kafka_broker() as broker:
        broker.bootstrap          # "127.0.0.1:<port>", PLAINTEXT listener
        broker.sasl_bootstrap     # "127.0.0.1:<port>", SASL_PLAINTEXT listener, SASL/PLAIN
        broker.sasl_username, broker.sasl_password   # the user of that listener's JAAS config

Apache Kafka 4.3.1's jars come from the machine-wide artifact cache (tests/support/artifacts.py,
`artifacts.ensure("kafka")`), the JVM is the host's (`java` on PATH, or $JAVA_HOME; Kafka 4.x
needs 17+). Every port is a free port on 127.0.0.1, the log dirs are in a temporary directory,
the storage is formatted with a new cluster id (`kafka-storage.sh format`), and the broker's
output goes to a log file whose tail is shown when it does not start. Ready when both client
listeners answer a Kafka ApiVersions request (a stdlib probe, polled with a deadline: a KRaft
broker enables its listeners only once the controller has unfenced it). Stopped with SIGTERM
(a controlled shutdown), then SIGKILL, each with a deadline (tests/support/processes.py).
`start_kafka(join=broker)` starts a second, broker-only node of the same cluster (what a test needs to
make a partition leaderless: its only replica on a broker that is then stopped). Standard library only.
"""

import base64
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:
    sys.path.insert(0, str(HERE.parents[1]))

from tests.support import artifacts  # noqa: E402
from tests.support.processes import stop_process  # noqa: E402

SASL_USERNAME = "dojo"
SASL_PASSWORD = "dojo-test-secret"  # test-only credential of the SASL listener's JAAS config
HEAP_OPTS = "-Xms256M -Xmx512M"


class KafkaBrokerError(RuntimeError):
    pass


def say(msg):
    print("==> kafka broker: " + msg, flush=True)


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count, host="127.0.0.1"):
    """`count` distinct free ports (bound together, so the kernel cannot hand out one twice)."""
    sockets = []
    try:
        while len(sockets) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def api_versions_ok(host, port, timeout=1.0):
    """True when a Kafka broker at host:port answers ApiVersions v0 without error.

    ApiVersions is allowed before authentication, so this works on SASL listeners too."""
    client_id = b"dojo-kafka-probe"
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


def new_cluster_id():
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Uuid.toString)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def java_command():
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise KafkaBrokerError("no Java found (java on PATH or $JAVA_HOME): Apache Kafka 4.x needs Java 17 or later")
    return str(java)


def java_major(java):
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    for token in (proc.stderr + proc.stdout).replace('"', " ").split():
        head = token.split(".")[0].split("-")[0]
        if head.isdigit() and "." in token:
            return int(head)
    return None


def server_properties(host, ports, data_dir, extra=None, *, node_id=1, join=False):
    """The broker's configuration: one KRaft node, PLAINTEXT + SASL_PLAINTEXT (PLAIN) listeners.

    ports: (PLAINTEXT, SASL_PLAINTEXT, CONTROLLER). With `join`, the node is a broker only (node.id
    `node_id`) of the cluster whose controller listens on the CONTROLLER port: it has no controller
    listener of its own."""
    port, sasl_port, controller_port = ports
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_{0}="{1}";'.format(
        SASL_USERNAME, SASL_PASSWORD
    )
    listeners = "PLAINTEXT://{0}:{1},SASL_PLAINTEXT://{0}:{2}".format(host, port, sasl_port)
    props = {
        "node.id": str(node_id),
        "process.roles": "broker" if join else "broker,controller",
        "listeners": listeners if join else listeners + ",CONTROLLER://{0}:{1}".format(host, controller_port),
        "advertised.listeners": "PLAINTEXT://{0}:{1},SASL_PLAINTEXT://{0}:{2}".format(host, port, sasl_port),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "controller.quorum.voters": "1@{0}:{1}".format(host, controller_port),
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # a consumer group's first join completes at once instead of after 3 s
        "group.initial.rebalance.delay.ms": "0",
    }
    props.update(extra or {})
    return "".join("{0}={1}\n".format(k, v) for k, v in props.items())


@dataclass
class KafkaBroker:
    host: str
    port: int
    sasl_port: int
    controller_port: int
    process: subprocess.Popen
    log_path: Path
    work_dir: Path
    cluster_id: str
    version: str
    node_id: int = 1
    sasl_username: str = SASL_USERNAME
    sasl_password: str = SASL_PASSWORD
    started_in: float = 0.0
    argv: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    remove_work_dir: bool = False

    @property
    def bootstrap(self):
        return "{0}:{1}".format(self.host, self.port)

    @property
    def sasl_bootstrap(self):
        return "{0}:{1}".format(self.host, self.sasl_port)

    def sasl_args(self, password=None):
        """The kafka_* modules' connection options for the SASL_PLAINTEXT listener."""
        return {
            "bootstrap_servers": [self.sasl_bootstrap],
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_username": self.sasl_username,
            "sasl_password": self.sasl_password if password is None else password,
        }

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=30, keep_data=False):
        """SIGTERM (controlled shutdown), wait up to `timeout`, then SIGKILL. Returns the exit code.

        The log dirs are removed unless `keep_data` (then restart() brings the same broker back)."""
        code = stop_process(
            self.process, timeout=timeout, kill_timeout=timeout, say=say, name="broker {0}".format(self.node_id)
        )
        if keep_data:
            return code
        if self.remove_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        else:
            shutil.rmtree(self.work_dir / "data", ignore_errors=True)
        return code

    def restart(self, startup_timeout=90.0):
        """Start a broker stopped with keep_data=True again (same node, ports, log dirs); returns once it answers."""
        if self.process.poll() is None:
            raise KafkaBrokerError("broker {0} is still running (pid {1})".format(self.node_id, self.process.pid))
        started = time.monotonic()
        _launch(self)
        _wait_ready(self, started, startup_timeout)


def start_kafka(
    host="127.0.0.1", *, work_dir=None, extra_properties=None, startup_timeout=90.0, env=None, join=None, node_id=None
):
    """Format and start a one-node KRaft broker; return a KafkaBroker once both client listeners
    answer ApiVersions (raises KafkaBrokerError otherwise, with the tail of the broker's log).

    join: a running KafkaBroker (started by this function without `join`): the new process is a
    second broker of its cluster (same cluster id, its controller), node.id `node_id` (default: the
    joined broker's + 1). It answers on its listeners once the controller has registered and
    unfenced it. Stopping it leaves the partitions whose only replica it holds without a leader."""
    dist = artifacts.ensure("kafka")
    home = dist / "kafka"
    version = artifacts.Kafka().pom_property("kafka.version")
    java = java_command()
    major = java_major(java)
    if major is not None and major < 17:
        raise KafkaBrokerError("{0} is Java {1}: Apache Kafka {2} needs Java 17 or later".format(java, major, version))
    remove = work_dir is None
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="dojo-kafka-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = work_dir / "data"
    log_path = work_dir / "broker.log"
    config = work_dir / "server.properties"
    if join is None:
        port, sasl_port, controller_port = free_ports(3, host)
        cluster_id = new_cluster_id()
        node_id = node_id or 1
    else:
        port, sasl_port = free_ports(2, host)
        controller_port = join.controller_port
        cluster_id = join.cluster_id
        node_id = node_id or join.node_id + 1
    config.write_text(
        server_properties(
            host,
            (port, sasl_port, controller_port),
            data_dir,
            extra_properties,
            node_id=node_id,
            join=join is not None,
        )
    )
    proc_env = dict(os.environ)
    proc_env.setdefault("KAFKA_HEAP_OPTS", HEAP_OPTS)
    if os.environ.get("JAVA_HOME") is None:
        proc_env["JAVA_HOME"] = str(Path(java).resolve().parents[1])
    proc_env.update(env or {})

    started = time.monotonic()
    # --cluster-id=<id>: a random id may start with '-', which argparse would take for an option
    fmt = [str(home / "bin" / "kafka-storage.sh"), "format", "--cluster-id=" + cluster_id, "--config", str(config)]
    with open(log_path, "wb") as log:
        try:
            formatted = subprocess.run(
                fmt,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=proc_env,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError("kafka-storage.sh format did not finish within 120 s") from exc
    if formatted.returncode != 0:
        raise KafkaBrokerError(
            "kafka-storage.sh format failed (rc {0}); last lines of {1}:\n{2}".format(
                formatted.returncode, log_path, _tail(log_path)
            )
        )

    argv = [str(home / "bin" / "kafka-server-start.sh"), str(config)]
    broker = KafkaBroker(
        host=host,
        port=port,
        sasl_port=sasl_port,
        controller_port=controller_port,
        process=None,
        log_path=log_path,
        work_dir=work_dir,
        cluster_id=cluster_id,
        version=version,
        node_id=node_id,
        argv=argv,
        env=proc_env,
        remove_work_dir=remove,
    )
    _launch(broker)
    _wait_ready(broker, started, startup_timeout)
    return broker


def _launch(broker):
    """Start the broker's process (its output appended to its log)."""
    with open(broker.log_path, "ab") as log:
        broker.process = subprocess.Popen(
            broker.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=broker.env,
            start_new_session=True,
        )


def _wait_ready(broker, started, startup_timeout):
    """Poll until both client listeners answer ApiVersions; stop the broker and raise KafkaBrokerError if not."""
    process, log_path = broker.process, broker.log_path
    say(
        "waiting up to {0:g} s for Apache Kafka {1} node {2} (pid {3}) to answer ApiVersions on {4} (PLAINTEXT) and "
        "{5} (SASL_PLAINTEXT); log: {6}".format(
            startup_timeout,
            broker.version,
            broker.node_id,
            process.pid,
            broker.bootstrap,
            broker.sasl_bootstrap,
            log_path,
        )
    )
    limit = started + startup_timeout
    delay = 0.05
    next_report = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            code = process.returncode
            broker.stop()
            raise KafkaBrokerError(
                "Apache Kafka exited with code {0} before answering on {1}; last lines of {2}:\n{3}".format(
                    code, broker.bootstrap, log_path, _tail(log_path)
                )
            )
        if api_versions_ok(broker.host, broker.port) and api_versions_ok(broker.host, broker.sasl_port):
            broker.started_in = time.monotonic() - started
            say(
                "ready in {0:.1f} s: {1} (PLAINTEXT), {2} (SASL_PLAINTEXT)".format(
                    broker.started_in, broker.bootstrap, broker.sasl_bootstrap
                )
            )
            return
        now = time.monotonic()
        if now >= limit:
            tail = _tail(log_path)
            broker.stop()
            raise KafkaBrokerError(
                "Apache Kafka did not answer ApiVersions on {0} and {1} within {2:g} s; last lines of {3}:\n{4}".format(
                    broker.bootstrap, broker.sasl_bootstrap, startup_timeout, log_path, tail
                )
            )
        if now >= next_report:
            last = _tail(log_path, 1)
            say("still waiting ({0:.0f} s): {1}".format(now - started, last[:160]))
            next_report = now + 10
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def kafka_broker(**kwargs):
    """Context manager around start_kafka(): the broker is stopped (and its data removed) on exit."""
    broker = start_kafka(**kwargs)
    try:
        yield broker
    finally:
        broker.stop()


if __name__ == "__main__":
    # a broker for manual work: prints its addresses, runs until Ctrl-C
    with kafka_broker() as running:
        print(
            "PLAINTEXT {0}  SASL_PLAINTEXT {1} (PLAIN, {2} / {3})".format(
                running.bootstrap, running.sasl_bootstrap, running.sasl_username, running.sasl_password
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            running.process.wait()
