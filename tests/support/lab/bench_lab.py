"""make bench-lab: wall seconds of the lab's steps on this machine, in one table.

  lab up, cold    empty base-tree cache (a temporary DOJO_LAB_CACHE): debootstrap + clone + boot + baseline
  site.yml        first converge of the fresh lab
  site.yml again  the idempotent re-run (goal: under 30 s, 0 changed)
  lab down
  lab up, warm    the cached base tree: clone + boot + baseline
  lab down

The lab is left down. Figures also go to build/lab/bench-lab.json.
"""

import json
import os
import shutil
import sys
import tempfile
import time

import playrun

GOAL_IDEMPOTENT_S = 30.0


class StepFailed(Exception):
    pass


def main():
    rows = []
    results = {}

    def step(key, label, fn):
        print("\n==> bench-lab: {0}".format(label), flush=True)
        run = fn()
        rows.append((label, run))
        results[key] = {"seconds": round(run.seconds, 1), "rc": run.rc, "tasks": run.tasks, "changed": run.changed}
        if run.rc != 0:
            raise StepFailed("{0} failed (rc {1})".format(label, run.rc))
        return run

    failure = None
    # the cold lab runs on a temporary cache: its tree is the guests' overlayfs lower layer,
    # so it is removed only once that lab is down
    cold_cache = tempfile.mkdtemp(prefix="dojo-lab-cold-cache-", dir="/var/tmp")
    try:
        env = playrun.ansible_env()
        env["DOJO_LAB_CACHE"] = cold_cache
        step("lab_up_cold", "lab up, cold (empty cache)", lambda: playrun.lab("up", env=env))
        step("converge", "site.yml (first run)", lambda: playrun.playbook("playbooks/site.yml"))
        step("idempotent", "site.yml (idempotent re-run)", lambda: playrun.playbook("playbooks/site.yml"))
        step("lab_down", "lab down", lambda: playrun.lab("down"))
        shutil.rmtree(cold_cache, ignore_errors=True)
        step("lab_up_warm", "lab up, warm (cached tree)", lambda: playrun.lab("up"))
        step("lab_down_2", "lab down", lambda: playrun.lab("down"))
    except StepFailed as exc:
        failure = str(exc)
    finally:
        if "lab_down_2" not in results:
            playrun.lab("down")  # before the cold cache goes (see above)
        shutil.rmtree(cold_cache, ignore_errors=True)

    print("\nlab timings ({0} CPUs, {1})".format(os.cpu_count(), time.strftime("%Y-%m-%d %H:%M")))
    print("  {0:<32} {1:>9} {2:>7} {3:>8}".format("step", "wall (s)", "tasks", "changed"))
    for label, run in rows:
        tasks = str(run.tasks) if run.hosts else "-"
        changed = str(run.changed) if run.hosts else "-"
        print("  {0:<32} {1:>9.1f} {2:>7} {3:>8}".format(label, run.seconds, tasks, changed))
    idem = results.get("idempotent")
    met = idem is not None and idem["rc"] == 0 and idem["seconds"] < GOAL_IDEMPOTENT_S and idem["changed"] == 0
    print(
        "  goal: idempotent re-run under {0:.0f} s with 0 changed: {1}".format(
            GOAL_IDEMPOTENT_S, "met" if met else "NOT met"
        )
    )
    print(
        "  load average at the end: {0} (other work on this machine skews the figures)".format(
            " ".join("{0:.2f}".format(x) for x in os.getloadavg())
        )
    )
    out = playrun.REPO / "build" / "lab" / "bench-lab.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    if failure:
        print("bench-lab: {0}".format(failure))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
