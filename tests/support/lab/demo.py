"""make demo: the main job in one command on a fresh machine.

lab up (three trixie guests + baseline) -> playbooks/site.yml -> the verification playbook
(playbooks/verify.yml when it exists, else the state check tests/support/lab/state_check.yml)
-> a summary of what was checked, and how to tear down. The lab stays up for exploring.
"""

import sys
from pathlib import Path

import playrun

REPO = playrun.REPO
VERIFY = REPO / "playbooks" / "verify.yml"
STATE_CHECK = Path(__file__).resolve().parent / "state_check.yml"


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

    if VERIFY.exists():
        banner("3/3 the verification playbook (playbooks/verify.yml)")
        check = playrun.playbook("playbooks/verify.yml")
        label = "verify.yml"
    else:
        banner("3/3 state check (playbooks/verify.yml does not exist yet)")
        check = playrun.playbook(STATE_CHECK.relative_to(REPO))
        label = "state check"
    rows.append((label, check, "hosts={0} checks={1} failed={2}".format(len(check.hosts), check.tasks, check.failed)))
    return report(rows, None if check.rc == 0 else label + " failed")


def report(rows, failure):
    banner("summary")
    for name, run, detail in rows:
        print("  {0:<28} {1:<5} {2:>6.1f}s  {3}".format(name, "ok" if run.rc == 0 else "FAIL", run.seconds, detail))
    if not VERIFY.exists():
        print(
            "\n  checked: kcat on serverapp lists the notifications topic (3 partitions) on the broker;\n"
            "  cAdvisor on broker answers serverapp through firewalld with container_last_seen for\n"
            "  kafka.service; kafka, cadvisor and podman.socket are active user units of vagrant;\n"
            "  Prometheus has loaded KafkaContainerDown and scrapes cAdvisor (job brokercontainer up);\n"
            "  Alertmanager routes to Slack (the lab's webhook sink)."
        )
    print(
        "\n  the lab is still up:  .venv/bin/python tests/support/lab/lab.py ssh broker   (or serverapp, monitoring)\n"
        "                        make lab-status\n"
        "  tear it down:         make lab-down"
    )
    if failure:
        print("\nDEMO FAILED: {0}".format(failure))
        return 1
    print("\nDEMO OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
