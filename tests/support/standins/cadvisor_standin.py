"""cAdvisor stand-in: test support, NOT product.

cAdvisor's image (gcr.io/cadvisor/cadvisor) cannot be pulled where this collection is
tested (no registry). This stand-in is packed into a local image
(tests/support/lab/images/cadvisor-standin/) that the collection's real ``cadvisor`` role
deploys in the lab through its image variable, with the seed's Quadlet options
(``Exec=--podman=unix:///run/user/1000/podman/podman.sock``, ``/sys/fs/cgroup`` mounted
read-only, port 8080 published as 9882). Python standard library only.

What it exposes (``GET /metrics``, text format 0.0.4, on ``--listen_ip``:``--port``)
================================================================================
For every RUNNING podman container, cAdvisor's series with cAdvisor's names, HELP texts,
labels and explicit sample timestamps (milliseconds, the time of the stats collection):

- ``container_last_seen`` (gauge, unix seconds of the collection)
- ``container_cpu_usage_seconds_total{cpu="total"}``, ``container_cpu_user_seconds_total``,
  ``container_cpu_system_seconds_total`` (counters, from ``cpu.stat`` usage/user/system_usec)
- ``container_memory_usage_bytes`` (``memory.current``), ``container_memory_working_set_bytes``
  (usage minus ``inactive_file`` of ``memory.stat``, floored at 0),
  ``container_spec_memory_limit_bytes`` (``memory.max``, ``max`` -> 0). Without a memory
  controller in the cgroup (the lab's nspawn guests have none: their host's controllers are
  all on cgroup v1) these fall back to the resident memory (VmRSS) of the container's
  processes: podman's ``State.Pid`` and its descendants, read in ``--proc_root`` (default:
  ``/rootfs/proc`` when the host's / is mounted at /rootfs as cAdvisor's deployment does,
  else /proc); the limit is then 0. They are left out when no process can be read.
- ``container_start_time_seconds`` (from the container's StartedAt)

Labels: ``id`` = the cgroup path cAdvisor reports for the container, ``name`` = container
name, ``image`` = image name, ``container_label_<label>`` for each container label (cAdvisor's
--store_container_labels default). For a Quadlet unit (podman ``--cgroups=split``) the
container's own cgroup ``.../<unit>.service/libpod-payload-<id>`` is reported under its
unit's cgroup, e.g. ``/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service``,
which is stable across restarts and is what the seed's KafkaContainerDown rule selects. A
stopped container's series disappear (Prometheus then keeps the last explicitly timestamped
sample for its 5-minute lookback, exactly as with cAdvisor). ``cadvisor_version_info`` is
always present. Raw (non-container) cgroups and machine_* series are not exported.

Other endpoints: ``GET /healthz`` -> ``ok`` (cAdvisor's). Containers come from podman's
libpod REST API on ``--podman`` (``unix:///path/podman.sock`` or ``http://host:port``):
``GET /v4.0.0/libpod/containers/json`` then ``.../containers/<id>/json`` for the cgroup path
(``State.CgroupPath``, else ``/proc/<State.Pid>/cgroup``). The cgroup v2 tree is read under
``--cgroup_root`` (default /sys/fs/cgroup), else under /rootfs/sys/fs/cgroup; a container
whose cgroup cannot be read still gets ``container_last_seen``. Unknown cAdvisor flags are accepted and ignored,
so the role can pass the real cAdvisor's options.

CLI: ``python3 cadvisor_standin.py [--port 8080] [--listen_ip ''] [--podman URL]
[--cgroup_root /sys/fs/cgroup] [--proc_root auto]``; prints
``cadvisor stand-in ready: http://H:P/metrics`` when listening; SIGTERM/SIGINT stop it.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STANDIN_NAME = "cadvisor-standin"
VERSION = "v0.52.1-standin"
SERVER_HEADER = "cadvisor-standin/1.0 (cAdvisor stand-in)"
DEFAULT_PODMAN = "unix:///run/podman/podman.sock"  # cAdvisor's default (the root socket)

HELP = {
    "container_last_seen": ("gauge", "Last time a container was seen by the exporter"),
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed in seconds."),
    "container_cpu_user_seconds_total": ("counter", "Cumulative user cpu time consumed in seconds."),
    "container_cpu_system_seconds_total": ("counter", "Cumulative system cpu time consumed in seconds."),
    "container_memory_usage_bytes": (
        "gauge",
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
    ),
    "container_memory_working_set_bytes": ("gauge", "Current working set in bytes."),
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit for the container."),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds."),
}


def log(message):
    sys.stderr.write("{0} {1}: {2}\n".format(time.strftime("%Y-%m-%dT%H:%M:%S"), STANDIN_NAME, message))
    sys.stderr.flush()


# --------------------------------------------------------------------------- libpod client


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class PodmanClient:
    """Just enough of podman's libpod REST API: list running containers, inspect one."""

    def __init__(self, url, timeout=5.0):
        self.url = url
        self.timeout = timeout
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "unix":
            self.socket_path = parsed.path or parsed.netloc
            self.host = None
        elif parsed.scheme in ("http", "tcp"):
            self.socket_path = None
            self.host = parsed.netloc
        else:
            raise ValueError("unsupported --podman URL: {0}".format(url))

    def _get(self, path):
        if self.socket_path:
            conn = _UnixHTTPConnection(self.socket_path, self.timeout)
        else:
            conn = http.client.HTTPConnection(self.host, timeout=self.timeout)
        try:
            conn.request("GET", path, headers={"Host": "d", "User-Agent": SERVER_HEADER})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise OSError("libpod {0} answered {1}: {2!r}".format(path, resp.status, body[:200]))
        return json.loads(body.decode("utf-8"))

    def running_containers(self):
        listed = self._get("/v4.0.0/libpod/containers/json")
        out = []
        for item in listed or []:
            if item.get("State") not in (None, "running"):
                continue
            try:
                out.append(self._get("/v4.0.0/libpod/containers/{0}/json".format(item["Id"])))
            except OSError as exc:  # removed between list and inspect
                log("inspect {0} failed: {1}".format(item.get("Id", "?")[:12], exc))
        return out


# --------------------------------------------------------------------------- cgroups


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _kv_file(path):
    text = _read(path)
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def reported_cgroup(cgroup_path):
    """The cgroup cAdvisor reports for a container: a split-mode payload is reported as its unit."""
    path = "/" + cgroup_path.strip("/")
    base = path.rsplit("/", 1)[-1]
    if base.startswith("libpod-payload-") or base == "container":
        path = path.rsplit("/", 1)[0] or "/"
    return path


def _cgroup_from_proc(proc_root, pid):
    text = _read(os.path.join(proc_root, str(pid), "cgroup"))
    for line in (text or "").splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    return None


def _rss_bytes(proc_root, pid):
    status = _read(os.path.join(proc_root, str(pid), "status"))
    match = re.search(r"^VmRSS:\s+(\d+) kB", status or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


class CgroupReader:
    """cgroup v2 files of a container, with fallbacks for hosts without a memory controller.

    The cgroup tree is looked up under cgroup_root, else under /rootfs/sys/fs/cgroup (the
    host's / that cAdvisor's deployment mounts at /rootfs). Processes are read from
    proc_root; the default ("auto") is /rootfs/proc when it exists (the host's pid
    namespace, where podman's State.Pid is valid), else /proc.
    """

    def __init__(self, cgroup_root="/sys/fs/cgroup", proc_root="auto"):
        self.cgroup_roots = [cgroup_root, "/rootfs/sys/fs/cgroup"]
        if proc_root == "auto":
            proc_root = "/rootfs/proc" if os.path.isdir("/rootfs/proc/self") else "/proc"
        self.proc_root = proc_root

    def _dir(self, cgroup):
        for root in self.cgroup_roots:
            path = os.path.join(root, cgroup.lstrip("/"))
            if os.path.isdir(path):
                return path
        return None

    def exists(self, cgroup):
        return self._dir(cgroup) is not None

    def cpu(self, cgroup):
        directory = self._dir(cgroup)
        stat = _kv_file(os.path.join(directory, "cpu.stat")) if directory else None
        if not stat or "usage_usec" not in stat:
            return None
        return {k: stat.get(k + "_usec", 0) / 1e6 for k in ("usage", "user", "system")}

    def memory(self, cgroup, pid=None):
        directory = self._dir(cgroup)
        current = _read(os.path.join(directory, "memory.current")) if directory else None
        if current is not None and current.strip().isdigit():
            usage = int(current)
            stat = _kv_file(os.path.join(directory, "memory.stat")) or {}
            limit_text = (_read(os.path.join(directory, "memory.max")) or "max").strip()
            return {
                "usage": usage,
                "working_set": max(0, usage - stat.get("inactive_file", 0)),
                "limit": int(limit_text) if limit_text.isdigit() else 0,
            }
        # no memory controller: resident memory of the container's processes, found from
        # podman's State.Pid (valid in proc_root's pid namespace), else from cgroup.procs
        rss = self._rss_of_tree(pid) if pid else None
        if rss is None and directory:
            rss = self._rss_of_cgroup(directory)
        if rss is None:
            return None
        return {"usage": rss, "working_set": rss, "limit": 0}

    def _rss_of_cgroup(self, directory):
        """Sum of VmRSS of the cgroup subtree's processes (pids of another pid namespace read as 0)."""
        total = None
        for root, _dirs, files in os.walk(directory):
            if "cgroup.procs" not in files:
                continue
            for pid in (_read(os.path.join(root, "cgroup.procs")) or "").split():
                rss = _rss_bytes(self.proc_root, pid) if pid != "0" else None
                if rss is not None:
                    total = (total or 0) + rss
        return total

    def _rss_of_tree(self, pid):
        """Sum of VmRSS of a process and its descendants (the container's init is podman's State.Pid)."""
        children = {}
        try:
            names = os.listdir(self.proc_root)
        except OSError:
            return None
        for name in names:
            if not name.isdigit():
                continue
            stat = _read(os.path.join(self.proc_root, name, "stat")) or ""
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1].isdigit():
                children.setdefault(int(fields[1]), []).append(int(name))
        total = None
        todo = [int(pid)]
        while todo:
            current = todo.pop()
            rss = _rss_bytes(self.proc_root, current)
            if rss is not None:
                total = (total or 0) + rss
            todo.extend(children.get(current, []))
        return total


# --------------------------------------------------------------------------- exposition


def _parse_time(value):
    """RFC 3339 with nanoseconds (podman's StartedAt) -> unix seconds, or None."""
    if not value or value.startswith("0001-"):
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
    if not match:
        return None
    stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = match.group(3)
    offset = 0 if zone == "Z" else (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (1 if zone[0] == "+" else -1)
    seconds = stamp.replace(tzinfo=datetime.timezone.utc).timestamp() - offset
    return seconds + float(match.group(2) or 0)


def _label_name(key):
    name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return "_" + name if name[:1].isdigit() else name


def _escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value):
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _sample(name, labels, value, ts_ms=None):
    body = ",".join('{0}="{1}"'.format(k, _escape(v)) for k, v in sorted(labels.items()) if v != "")
    text = "{0}{{{1}}} {2}".format(name, body, _fmt(value)) if body else "{0} {1}".format(name, _fmt(value))
    return text if ts_ms is None else "{0} {1}".format(text, ts_ms)


class Exporter:
    def __init__(self, podman, cgroups, clock=time.time):
        self.podman = podman
        self.cgroups = cgroups
        self.clock = clock
        self.lock = threading.Lock()

    def container_samples(self):
        """[(metric, labels, value, timestamp ms)] for the running containers."""
        try:
            containers = self.podman.running_containers()
        except (OSError, ValueError) as exc:
            log("podman API {0}: {1}".format(self.podman.url, exc))
            return []
        samples = []
        for info in containers:
            state = info.get("State") or {}
            cgroup = state.get("CgroupPath") or _cgroup_from_proc(self.cgroups.proc_root, state.get("Pid") or 0)
            if not cgroup:
                continue
            cgroup_id = reported_cgroup(cgroup)
            now = self.clock()
            ts_ms = int(now * 1000)
            labels = {
                "id": cgroup_id,
                "name": (info.get("Name") or "").lstrip("/"),
                "image": info.get("ImageName") or (info.get("Config") or {}).get("Image") or "",
            }
            for key, value in ((info.get("Config") or {}).get("Labels") or {}).items():
                labels["container_label_" + _label_name(key)] = str(value)
            samples.append(("container_last_seen", labels, int(now), ts_ms))
            cpu = self.cgroups.cpu(cgroup_id)
            if cpu is not None:
                samples.append(("container_cpu_usage_seconds_total", dict(labels, cpu="total"), cpu["usage"], ts_ms))
                samples.append(("container_cpu_user_seconds_total", labels, cpu["user"], ts_ms))
                samples.append(("container_cpu_system_seconds_total", labels, cpu["system"], ts_ms))
            memory = self.cgroups.memory(cgroup_id, state.get("Pid"))
            if memory is not None:
                samples.append(("container_memory_usage_bytes", labels, memory["usage"], ts_ms))
                samples.append(("container_memory_working_set_bytes", labels, memory["working_set"], ts_ms))
                samples.append(("container_spec_memory_limit_bytes", labels, memory["limit"], ts_ms))
            started = _parse_time(state.get("StartedAt"))
            if started is not None:
                samples.append(("container_start_time_seconds", labels, started, ts_ms))
        return samples

    def render(self):
        with self.lock:
            samples = self.container_samples()
        lines = [
            "# HELP cadvisor_version_info A metric with a constant '1' value labeled by kernel version, OS version,"
            " docker version, cadvisor version & cadvisor revision.",
            "# TYPE cadvisor_version_info gauge",
            _sample(
                "cadvisor_version_info",
                {
                    "cadvisorRevision": "standin",
                    "cadvisorVersion": VERSION,
                    "kernelVersion": os.uname().release,
                    "osVersion": "cAdvisor stand-in",
                },
                1,
            ),
        ]
        for name in sorted(HELP):
            family = [s for s in samples if s[0] == name]
            if not family:
                continue
            kind, text = HELP[name]
            lines.append("# HELP {0} {1}".format(name, text))
            lines.append("# TYPE {0} {1}".format(name, kind))
            lines.extend(_sample(*s) for s in sorted(family, key=lambda s: sorted(s[1].items())))
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    server_version = SERVER_HEADER
    sys_version = ""
    protocol_version = "HTTP/1.1"
    exporter = None
    verbose = False

    def log_message(self, format, *args):  # BaseHTTPRequestHandler signature
        if self.verbose:
            log("{0} {1}".format(self.address_string(), format % args))

    def _send(self, status, body, content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.exporter.render().encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/healthz":
            self._send(200, b"ok")
        else:
            self._send(404, b"404 page not found\n")

    do_HEAD = do_GET


def set_process_title(title):
    """Name the process (comm, seen by ps/top) after the stand-in; best effort."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, title.encode("ascii")[:15], 0, 0, 0)  # PR_SET_NAME
    except (ImportError, OSError, AttributeError):
        pass


def make_server(listen_ip, port, exporter, verbose=False):
    handler = type("BoundHandler", (Handler,), {"exporter": exporter, "verbose": verbose})
    server = ThreadingHTTPServer((listen_ip or "0.0.0.0", port), handler)
    server.daemon_threads = True
    return server


def _normalise_go_flags(argv):
    # cAdvisor (Go flag package) also accepts -flag and -flag=value
    return ["-" + a if re.match(r"^-[a-z][a-z_]+(=|$)", a) else a for a in argv]


def main(argv=None):
    parser = argparse.ArgumentParser(description="cAdvisor stand-in (container_* series from cgroup v2 + podman)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--listen_ip", default="")
    parser.add_argument("--podman", default=DEFAULT_PODMAN, help="libpod API: unix:///path.sock or http://host:port")
    parser.add_argument("--cgroup_root", default="/sys/fs/cgroup")
    parser.add_argument("--proc_root", default="auto", help="auto: /rootfs/proc if mounted, else /proc")
    parser.add_argument("--verbose", action="store_true")
    args, unknown = parser.parse_known_args(_normalise_go_flags(list(sys.argv[1:] if argv is None else argv)))
    if unknown:
        log("ignoring cAdvisor options this stand-in does not implement: {0}".format(" ".join(unknown)))
    set_process_title(STANDIN_NAME)
    exporter = Exporter(PodmanClient(args.podman.strip("\"'")), CgroupReader(args.cgroup_root, args.proc_root))
    server = make_server(args.listen_ip, args.port, exporter, args.verbose)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name=STANDIN_NAME, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    print("cadvisor stand-in ready: http://{0}:{1}/metrics".format(host, port))
    sys.stdout.flush()
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
