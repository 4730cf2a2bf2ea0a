"""make demo: the main job in one command on a fresh machine.

lab up (three trixie guests + baseline) -> playbooks/site.yml -> playbooks/nightly.yml (the
verification checks and the failure drill) -> the report's summary, and how to tear down.
The lab stays up for exploring.
"""

import sys

import playrun

REPO = playrun.REPO
REPORT = REPO / "reports" / "nightly.md"
JUNIT = REPO / "reports" / "nightly.junit.xml"


def banner(text):
    print("\n" + "=" * 78 + "\n== " + text + "\n" + "=" * 78, flush=True)


def main():
    rows = []

    banner("1/3 lab up: broker, serverapp, monitoring (systemd-nspawn) and their baseline")
    up = playrun.lab("up")
    rows.append(("lab up (guests + baseline)", up, ""))
    if up.rc != 0:
        return report(rows, "lab up failed")

    banner("2/3 playbooks/site.yml on the lab (inventory/lab)")
    site = playrun.playbook("playbooks/site.yml")
    rows.append(("site.yml", site, "hosts={0} tasks={1} changed={2}".format(len(site.hosts), site.tasks, site.changed)))
    if site.rc != 0:
        return report(rows, "site.yml failed")

    banner("3/3 playbooks/nightly.yml: the verification checks, then the failure drill (a few minutes)")
    for stale in (REPORT, JUNIT):
        stale.unlink(missing_ok=True)
    nightly = playrun.playbook("playbooks/nightly.yml")
    rows.append(("nightly.yml", nightly, "report: reports/nightly.md, reports/nightly.junit.xml"))
    return report(rows, None if nightly.rc == 0 else "nightly.yml: a check failed (see the report)")


def report(rows, failure):
    if REPORT.exists():
        banner("the report (reports/nightly.md)")
        print(REPORT.read_text())
    banner("summary")
    for name, run, detail in rows:
        print("  {0:<28} {1:<5} {2:>6.1f}s  {3}".format(name, "ok" if run.rc == 0 else "FAIL", run.seconds, detail))
    print(
        "\n  the lab is still up:  .venv/bin/python tests/support/lab/lab.py ssh broker   (or serverapp, monitoring)\n"
        "                        make lab-status\n"
        "  run again:            .venv/bin/ansible-playbook -i inventory/lab playbooks/verify.yml   (or nightly.yml)\n"
        "  tear it down:         make lab-down"
    )
    if failure:
        print("\nDEMO FAILED: {0}".format(failure))
        return 1
    print("\nDEMO OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
