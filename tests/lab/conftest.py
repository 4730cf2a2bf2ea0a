"""The lab stage of `make test`: the three-host lab, brought up once for the session.

The session fixture `molecule_run` runs `molecule test --destroy never` (molecule/default):
molecule creates the lab (tests/support/lab/lab.py up, with the baseline), converges
playbooks/site.yml, converges again (idempotence: nothing may change), runs
playbooks/nightly.yml as its side effect (the verification checks and the failure drill,
which write reports/nightly.md and reports/nightly.junit.xml) and runs the testinfra tests of
molecule/default/tests. The lab stays up for the other lab tests (the fault injection of
test_lab_where_it_broke.py) and is destroyed (`molecule destroy`) when the session ends.
molecule's output is streamed as it comes (plus lab.py's progress log, which molecule's
create step would otherwise only show at the end); the figures of the two converge runs are
parsed from their PLAY RECAPs, printed and written to build/lab/molecule-figures.json
(README "The lab", make bench).
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB_LOG = Path("/var/lib/dojo-kafka-lab/logs/lab.log")
FIGURES = REPO / "build" / "lab" / "molecule-figures.json"
REPORT = REPO / "reports" / "nightly.md"
JUNIT = REPO / "reports" / "nightly.junit.xml"
TIMEOUT_S = float(os.environ.get("DOJO_LAB_MOLECULE_TIMEOUT", "2700"))

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# molecule's step lines: "INFO default ➜ converge: Executing" with colours, and
# "INFO [default > converge] Executing" without (CI=true)
STEP = re.compile(r"(?:INFO|WARNING|ERROR)\s+(?:\S+ \S+ (\w+):|\[\S+ > (\w+)\]) (Executing|Executed: \w+)\s*$")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
VERIFY = re.compile(r"=+ .*?(\d+) passed")


def _tail(path, stop, out):
    """Print the lines appended to path until stop is set (lab.py's progress during create/destroy)."""
    offset = path.stat().st_size if path.exists() else 0
    while not stop.wait(0.5):
        if not path.exists():
            continue
        with open(path, errors="replace") as f:
            f.seek(offset)
            chunk = f.read()
            offset = f.tell()
        for line in chunk.splitlines():
            out.write("  [lab.py] {0}\n".format(line))
            out.flush()


def parse(lines):
    """Per molecule step: wall seconds, and for converge/idempotence the recap per host."""
    steps = {}
    current = None
    for raw in lines:
        line = ANSI.sub("", raw)
        m = STEP.search(line)
        if m:
            name, what = m.group(1) or m.group(2), m.group(3)
            if what == "Executing":
                current = name
                steps.setdefault(name, []).append({"start": None, "hosts": {}, "verify_passed": None})
            continue
        if current is None:
            continue
        body = line.lstrip(" │").strip()
        r = RECAP.match(body)
        if r and current in ("converge", "idempotence"):
            host, ok, changed, unreachable, failed = r.groups()
            steps[current][-1]["hosts"][host] = {
                "ok": int(ok),
                "changed": int(changed),
                "unreachable": int(unreachable),
                "failed": int(failed),
            }
        v = VERIFY.search(body)
        if v and current == "verify":
            steps[current][-1]["verify_passed"] = int(v.group(1))
    return steps


def summarize(steps):
    figures = {}
    for name in ("converge", "idempotence"):
        if name in steps and steps[name][-1]["hosts"]:
            hosts = steps[name][-1]["hosts"]
            figures[name] = {
                "hosts": len(hosts),
                "tasks": sum(h["ok"] for h in hosts.values()),
                "changed": sum(h["changed"] for h in hosts.values()),
                "failed": sum(h["failed"] + h["unreachable"] for h in hosts.values()),
                "per_host": hosts,
            }
    if "verify" in steps:
        figures["verify_passed"] = steps["verify"][-1]["verify_passed"]
    return figures


def molecule_env():
    env = dict(os.environ)
    env.update(
        {
            "PATH": "{0}:{1}".format(BIN, env.get("PATH", "")),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),
            "COLUMNS": "160",  # molecule wraps its boxed output at the terminal width
        }
    )
    return env


@contextlib.contextmanager
def uncaptured(request):
    """pytest's output capture off (for a session fixture, which cannot use capsys)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        yield sys.stdout


def run_molecule(request):
    """`molecule test --destroy never`, streamed; returns (rc, figures)."""
    env = molecule_env()
    lines = []
    step_times = {}
    for stale in (REPORT, JUNIT):
        stale.unlink(missing_ok=True)
    with uncaptured(request) as out:
        out.write("\n==> molecule test --destroy never (scenario default: the three-host lab)\n")
        out.flush()
        stop = threading.Event()
        tailer = threading.Thread(target=_tail, args=(LAB_LOG, stop, out), daemon=True)
        tailer.start()
        start = time.monotonic()
        step_start = None
        proc = subprocess.Popen(
            [str(BIN / "molecule"), "test", "--destroy", "never"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
        )
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                lines.append(line)
                m = STEP.search(ANSI.sub("", line))
                if m:
                    now = time.monotonic()
                    name, what = m.group(1) or m.group(2), m.group(3)
                    if what == "Executing":
                        step_start = (name, now)
                    elif step_start and step_start[0] == name:
                        step_times.setdefault(name, []).append(round(now - step_start[1], 1))
                if time.monotonic() - start > TIMEOUT_S:
                    proc.kill()
                    break
            rc = proc.wait()
        finally:
            stop.set()
            tailer.join(timeout=5)
            if proc.poll() is None:
                proc.kill()
        figures = summarize(parse(lines))
        figures["step_seconds"] = step_times
        figures["total_seconds"] = round(time.monotonic() - start, 1)
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
        out.write("\n==> lab figures (also in {0})\n".format(FIGURES.relative_to(REPO)))
        for name in ("converge", "idempotence"):
            f = figures.get(name)
            if f:
                out.write(
                    "    {0:<12} hosts={1} tasks={2} changed={3} failed={4} ({5}s)\n".format(
                        name, f["hosts"], f["tasks"], f["changed"], f["failed"], step_times.get(name, ["?"])[-1]
                    )
                )
        out.write("    verify       {0} testinfra tests passed\n".format(figures.get("verify_passed")))
        out.write("    steps (s)    {0}\n".format(step_times))
        if REPORT.exists():
            report = REPORT.read_text()
            out.write("\n==> the nightly run's report ({0})\n{1}\n".format(REPORT.relative_to(REPO), report))
        out.flush()

    figures["rc"] = rc
    return rc, figures


@pytest.fixture(scope="session")
def molecule_run(request):
    """The lab scenario, once per session; the lab stays up until the session ends."""
    rc, figures = run_molecule(request)
    yield rc, figures
    with uncaptured(request) as out:
        out.write("\n==> molecule destroy (lab down)\n")
        out.flush()
        subprocess.run(
            [str(BIN / "molecule"), "destroy"], cwd=REPO, env=molecule_env(), check=False, stdin=subprocess.DEVNULL
        )
