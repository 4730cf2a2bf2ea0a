"""The lab's image root filesystems (tests/support/lab/images/rootfs_tar.py): reproducible tars,
and the cAdvisor stand-in really runs from one (chroot, as the image's entrypoint would)."""

import json
import os
import shutil
import signal
import subprocess
import tarfile
import urllib.request

import pytest

from tests.unit.standins.standin_helpers import REPO, STANDINS

ROOTFS_TAR = REPO / "tests" / "support" / "lab" / "images" / "rootfs_tar.py"
# the lab builds with the guest's own python3; Debian's here is the closest stand-in for it
PYTHON = shutil.which("python3", path="/usr/bin") or "python3"


def _build(output, *args):
    proc = subprocess.run(
        [PYTHON, str(ROOTFS_TAR), "--output", str(output), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def cadvisor_tar(tmp_path_factory):
    out = tmp_path_factory.mktemp("image") / "cadvisor.tar"
    standin = "{0}:/cadvisor_standin.py".format(STANDINS / "cadvisor_standin.py")
    args = ["--python", "--file", standin, "--dir", "/tmp:1777"]
    first = _build(out, *args)
    second = _build(out, *args)
    return out, first, second


def test_reproducible_and_rewritten_only_on_change(cadvisor_tar, tmp_path):
    path, first, second = cadvisor_tar
    assert first["changed"] is True
    assert second["changed"] is False
    assert first["sha256"] == second["sha256"]
    assert first["python"].startswith("/usr/bin/python3.")
    assert first["size"] == path.stat().st_size < 40 * 1024 * 1024
    binary = tmp_path / "tansu"
    binary.write_bytes(b"\x7fELF fake")
    tansu = _build(tmp_path / "t.tar", "--file", "{0}:/usr/local/bin/tansu:0755".format(binary), "--dir", "/tmp:1777")
    with tarfile.open(tmp_path / "t.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"tmp", "usr", "usr/local", "usr/local/bin", "usr/local/bin/tansu"}
    assert members["usr/local/bin/tansu"].mode == 0o755
    assert members["tmp"].mode == 0o1777
    assert tansu["python"] is None


def test_python_tree_content(cadvisor_tar):
    path, first, _second = cadvisor_tar
    with tarfile.open(path) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
    assert members["usr/bin/python3"].issym()
    assert members["usr/bin/python3"].linkname == first["python"]
    assert members["cadvisor_standin.py"].isfile()
    stdlib = first["python"].replace("/usr/bin/", "usr/lib/")
    assert stdlib + "/http/server.py" in members
    assert not any("__pycache__" in n or n.startswith(stdlib + "/test/") for n in members)
    assert not any("tkinter" in n for n in members)
    assert any(n.endswith("/libc.so.6") for n in members)


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_the_standin_runs_from_the_tar(cadvisor_tar, tmp_path):
    path, _first, _second = cadvisor_tar
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(path) as tar:
        tar.extractall(root)  # noqa: S202 (our own tar)
    proc = subprocess.Popen(
        [
            "chroot",
            str(root),
            "/usr/bin/python3",
            "-u",
            "/cadvisor_standin.py",
            "--port=0",
            "--listen_ip=127.0.0.1",
            "--podman=unix:///run/none.sock",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # the ready line, once it listens
        assert line.startswith("cadvisor stand-in ready:"), line + proc.stderr.read()
        url = line.split()[-1]
        with urllib.request.urlopen(url.replace("/metrics", "/healthz"), timeout=10) as resp:
            assert resp.read() == b"ok"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert b"cadvisor_version_info" in resp.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()
