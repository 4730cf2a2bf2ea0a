"""cAdvisor stand-in against a fake cgroup v2 tree and a fake libpod API on a unix socket."""

import json
import re
import socketserver
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.standins import cadvisor_standin as cadvisor
from tests.unit.standins.standin_helpers import promtool_check_metrics

UNIT_CGROUP = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"
KAFKA_ID = "a" * 64
SCOPE_ID = "b" * 64


class FakeLibpod:
    """podman's libpod REST API (list + inspect) on a unix socket."""

    def __init__(self, socket_path):
        self.containers = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append(self.path)
                match = re.fullmatch(r"/v4\.0\.0/libpod/containers/(json|([0-9a-f]+)/json)", self.path)
                if match is None:
                    return self._reply(404, {"cause": "no such path"})
                if match.group(2) is None:
                    listed = [
                        {"Id": cid, "Names": [c["Name"]], "State": c["State"]["Status"]}
                        for cid, c in fake.containers.items()
                        if c["State"]["Status"] == "running"
                    ]
                    return self._reply(200, listed)
                if match.group(2) not in fake.containers:
                    return self._reply(404, {"cause": "no such container"})
                return self._reply(200, fake.containers[match.group(2)])

            def _reply(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()

    def add(self, cid, name, image, cgroup_path, *, labels=None, started="2026-11-24T01:02:03.456789123+01:00"):
        self.containers[cid] = {
            "Id": cid,
            "Name": name,
            "ImageName": image,
            "Config": {"Image": image, "Labels": labels or {}},
            "State": {"Status": "running", "Running": True, "Pid": 0, "CgroupPath": cgroup_path, "StartedAt": started},
        }

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _write_cgroup(root, path, usage_usec, memory=None, procs=""):
    directory = root / path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cpu.stat").write_text(
        "usage_usec {0}\nuser_usec {1}\nsystem_usec {2}\nnr_periods 0\n".format(
            usage_usec, usage_usec * 3 // 4, usage_usec // 4
        )
    )
    (directory / "cgroup.procs").write_text(procs)
    if memory is not None:
        (directory / "memory.current").write_text("{0}\n".format(memory))
        (directory / "memory.stat").write_text("anon 100\nfile 200\ninactive_file 1000\nactive_file 5\n")
        (directory / "memory.max").write_text("max\n")
    return directory


@pytest.fixture
def env(tmp_path):
    cgroups = tmp_path / "cgroup"
    _write_cgroup(cgroups, UNIT_CGROUP, 2_500_000, memory=50_000)
    # split mode: the payload cgroup under the unit (what podman inspect reports)
    _write_cgroup(cgroups, UNIT_CGROUP + "/libpod-payload-" + KAFKA_ID, 2_000_000, memory=40_000)
    libpod = FakeLibpod(tmp_path / "podman.sock")
    libpod.add(
        KAFKA_ID,
        "kafka",
        "localhost/tansu:lab",
        UNIT_CGROUP + "/libpod-payload-" + KAFKA_ID,
        labels={"PODMAN_SYSTEMD_UNIT": "kafka.service", "io.podman.x": "1"},
    )
    clock = [1_795_000_000.25]
    exporter = cadvisor.Exporter(
        cadvisor.PodmanClient("unix://" + str(tmp_path / "podman.sock")),
        cadvisor.CgroupReader(str(cgroups), str(tmp_path / "proc")),
        clock=lambda: clock[0],
    )
    yield {"cgroups": cgroups, "libpod": libpod, "exporter": exporter, "clock": clock, "tmp": tmp_path}
    libpod.close()


def _lines(text, name):
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_series_names_labels_values_and_timestamps(env):
    text = env["exporter"].render()
    ts = "1795000000250"
    labels = (
        'container_label_PODMAN_SYSTEMD_UNIT="kafka.service",container_label_io_podman_x="1",'
        'id="{0}",image="localhost/tansu:lab",name="kafka"'.format(UNIT_CGROUP)
    )
    assert _lines(text, "container_last_seen") == ["container_last_seen{%s} 1795000000 %s" % (labels, ts)]
    assert _lines(text, "container_cpu_usage_seconds_total") == [
        'container_cpu_usage_seconds_total{%s,cpu="total",%s} 2.5 %s'
        % (labels.split(",id=", maxsplit=1)[0], "id=" + labels.split(",id=")[1], ts)
    ]
    assert _lines(text, "container_cpu_user_seconds_total") == [
        "container_cpu_user_seconds_total{%s} 1.875 %s" % (labels, ts)
    ]
    assert _lines(text, "container_memory_usage_bytes") == ["container_memory_usage_bytes{%s} 50000 %s" % (labels, ts)]
    assert _lines(text, "container_memory_working_set_bytes") == [
        "container_memory_working_set_bytes{%s} 49000 %s" % (labels, ts)
    ]
    assert _lines(text, "container_spec_memory_limit_bytes") == [
        "container_spec_memory_limit_bytes{%s} 0 %s" % (labels, ts)
    ]
    # 2026-11-24T01:02:03.456789123+01:00
    (start,) = _lines(text, "container_start_time_seconds")
    assert float(start.split()[1]) == pytest.approx(1795478523.456789, abs=1e-3)
    assert "# TYPE container_last_seen gauge" in text
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
    assert "# HELP container_last_seen Last time a container was seen by the exporter" in text
    assert re.search(r'^cadvisor_version_info\{.*cadvisorVersion="v0\.52\.1-standin".*\} 1$', text, re.M)
    rc, output = promtool_check_metrics(text)
    # cadvisor_version_info's camelCase label names are cAdvisor's own (promtool lints them);
    # anything else, a parse error in particular, fails
    problems = [line for line in output.splitlines() if line.strip()]
    lint = "cadvisor_version_info label names should be written in 'snake_case' not 'camelCase'"
    assert all(p == lint for p in problems), output
    assert rc in (0, 3), output


def test_the_seeds_alert_selector_matches_and_the_id_is_stable_across_restarts(env):
    text = env["exporter"].render()
    assert "container_last_seen{" in text
    assert 'id="{0}"'.format(UNIT_CGROUP) in _lines(text, "container_last_seen")[0]
    # the container is recreated by the unit (new id, new payload cgroup): same id label
    env["libpod"].containers.clear()
    new_id = "c" * 64
    _write_cgroup(env["cgroups"], UNIT_CGROUP + "/libpod-payload-" + new_id, 10)
    env["libpod"].add(new_id, "kafka", "localhost/tansu:lab", UNIT_CGROUP + "/libpod-payload-" + new_id)
    env["clock"][0] += 15
    (line,) = _lines(env["exporter"].render(), "container_last_seen")
    assert 'id="{0}"'.format(UNIT_CGROUP) in line
    assert line.endswith(" 1795000015 1795000015250")


def test_stopped_container_series_disappear(env):
    assert _lines(env["exporter"].render(), "container_last_seen")
    env["libpod"].containers[KAFKA_ID]["State"]["Status"] = "exited"
    text = env["exporter"].render()
    assert "container_" not in text.replace("cadvisor_version_info", "")
    assert "cadvisor_version_info" in text


def test_non_split_container_keeps_its_own_scope_and_memory_falls_back_to_rss(env):
    scope = "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{0}.scope".format(SCOPE_ID)
    # no memory controller (as in the lab's nspawn guests): RSS of the visible processes
    _write_cgroup(env["cgroups"], scope, 1_000, procs="4242\n0\n")
    proc = env["tmp"] / "proc" / "4242"
    proc.mkdir(parents=True)
    (proc / "status").write_text("Name:\tpython3\nVmRSS:\t    2048 kB\n")
    env["libpod"].add(SCOPE_ID, "cadvisor", "localhost/cadvisor-standin:lab", scope)
    text = env["exporter"].render()
    (line,) = [x for x in _lines(text, "container_memory_usage_bytes") if 'name="cadvisor"' in x]
    assert 'id="{0}"'.format(scope) in line
    assert " 2097152 " in line


def test_container_without_memory_data_has_no_memory_series(env):
    env["libpod"].containers.clear()
    scope = "/machine.slice/libpod-{0}.scope".format(SCOPE_ID)
    _write_cgroup(env["cgroups"], scope, 1_000)
    env["libpod"].add(SCOPE_ID, "x", "img", scope)
    text = env["exporter"].render()
    assert _lines(text, "container_cpu_usage_seconds_total")
    assert not _lines(text, "container_memory_usage_bytes")


def test_podman_unreachable_gives_no_container_series(tmp_path):
    exporter = cadvisor.Exporter(
        cadvisor.PodmanClient("unix://" + str(tmp_path / "missing.sock")), cadvisor.CgroupReader(str(tmp_path))
    )
    text = exporter.render()
    assert "cadvisor_version_info" in text
    assert "container_last_seen" not in text


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (UNIT_CGROUP + "/libpod-payload-" + KAFKA_ID, UNIT_CGROUP),
        (UNIT_CGROUP + "/container", UNIT_CGROUP),
        ("/machine.slice/libpod-{0}.scope".format(KAFKA_ID), "/machine.slice/libpod-{0}.scope".format(KAFKA_ID)),
        ("machine.slice/libpod-x.scope/", "/machine.slice/libpod-x.scope"),
    ],
)
def test_reported_cgroup(path, expected):
    assert cadvisor.reported_cgroup(path) == expected


def test_cli_accepts_the_seeds_exec_line_and_serves_healthz(run_standin, env):
    running = run_standin(
        "cadvisor_standin.py",
        [
            "--port=0",
            "--listen_ip=127.0.0.1",
            '--podman="unix://{0}"'.format(env["tmp"] / "podman.sock"),
            "--cgroup_root={0}".format(env["cgroups"]),
            "-housekeeping_interval=10s",
            "--docker_only=false",
        ],
        "cadvisor stand-in ready:",
    )
    url = running.ready_line.split()[-1]
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert "cAdvisor stand-in" in resp.headers["Server"]
        text = resp.read().decode()
    assert 'name="kafka"' in _lines(text, "container_last_seen")[0]
    with urllib.request.urlopen(url.replace("/metrics", "/healthz"), timeout=10) as resp:
        assert resp.read() == b"ok"
    assert Path("/proc/{0}/comm".format(running.proc.pid)).read_text().strip() == "cadvisor-standi"
    assert running.stop() == 0
    assert "ignoring cAdvisor options" in running.stderr
    assert "housekeeping_interval" in running.stderr


def test_memory_falls_back_to_the_container_process_tree(env):
    """The lab's case: no memory controller, pids of another pid namespace (State.Pid + children)."""
    env["libpod"].containers.clear()
    scope = "/machine.slice/libpod-{0}.scope".format(SCOPE_ID)
    _write_cgroup(env["cgroups"], scope, 1_000, procs="0\n0\n")  # pids invisible from here
    proc = env["tmp"] / "proc"
    for pid, ppid, rss_kb in ((100, 1, 1000), (101, 100, 24), (102, 101, 1), (200, 1, 99999)):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "stat").write_text("{0} (a b) S {1} 1 1 0\n".format(pid, ppid))
        (proc / str(pid) / "status").write_text("Name:\tx\nVmRSS:\t{0} kB\n".format(rss_kb))
    env["libpod"].add(SCOPE_ID, "tansu", "img", scope)
    env["libpod"].containers[SCOPE_ID]["State"]["Pid"] = 100
    (line,) = _lines(env["exporter"].render(), "container_memory_usage_bytes")
    assert " {0} ".format((1000 + 24 + 1) * 1024) in line
    (limit,) = _lines(env["exporter"].render(), "container_spec_memory_limit_bytes")
    assert " 0 " in limit


def test_a_container_whose_cgroup_is_unreadable_is_still_seen(env):
    env["libpod"].containers.clear()
    env["libpod"].add(SCOPE_ID, "ghost", "img", "/nowhere/libpod-{0}.scope".format(SCOPE_ID))
    text = env["exporter"].render()
    (line,) = _lines(text, "container_last_seen")
    assert 'name="ghost"' in line
    assert not _lines(text, "container_cpu_usage_seconds_total")
