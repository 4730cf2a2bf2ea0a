"""The cadvisor role's wait (tasks/wait.yml) run for real against a cAdvisor-shaped endpoint.

The rest of the role needs podman, Quadlet and a user systemd (the lab: `make lab`). What the
wait must prove is that cAdvisor sees the Kafka container, not only that /metrics answers 200:
here a real HTTP endpoint (tests/support/prometheus.MetricsTarget) serves cAdvisor's
exposition, with the series cAdvisor v0.52.1 exports for a rootless Quadlet unit under podman
5.4 (measured in the lab): `container_last_seen{id="/user.slice/user-<uid>.slice/user@<uid>.service/
app.slice/kafka.service"}`, and no name="kafka" series.
"""

import json
import subprocess
import time

import pytest

from tests.support.ansible_run import BIN, REPO, ansible_env, run_playbook
from tests.support.prometheus import MetricsTarget, wait_for

pytestmark = pytest.mark.slow

UID = "1000"
KAFKA_CGROUP = "/user.slice/user-1000.slice/user@1000.service/app.slice/kafka.service"
# what a cAdvisor that cannot read the user's cgroups (or the podman socket) still exports
OTHER_CGROUPS = ["/", "/system.slice", "/system.slice/sshd.service", "/user.slice"]


def playbook(tmp_path, **role_vars):
    values = {
        "_common_user_uid": UID,  # looked up by tasks/main.yml (the _common role's user entry point)
        "cadvisor_user": "vagrant",
        "cadvisor_wait_retries": 10,
        "cadvisor_wait_delay": 1,
    }
    values.update(role_vars)
    play = [
        {
            "name": "cadvisor wait",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "the role's wait",
                    "ansible.builtin.include_role": {"name": "dojo.kafka_observability.cadvisor", "tasks_from": "wait"},
                    "vars": values,
                }
            ],
        }
    ]
    path = tmp_path / "wait.yml"
    path.write_text(json.dumps(play))
    return path


def cadvisor_like(target, cgroups):
    for cgroup in cgroups:
        labels = {"id": cgroup, "image": "", "name": ""}
        if cgroup == "/system.slice/sshd.service":
            labels["container_label_io_podman"] = "x"  # `id` after another label
        target.set("container_last_seen", time.time(), labels, kind="gauge")
    target.set("machine_cpu_cores", 2, kind="gauge")


def run(tmp_path, **role_vars):
    return run_playbook(playbook(tmp_path, **role_vars), inventory="localhost,", args=["-c", "local"])


def test_http_200_without_the_kafka_cgroup_fails_saying_what_cadvisor_exports(tmp_path):
    with MetricsTarget() as cadvisor:
        cadvisor_like(cadvisor, OTHER_CGROUPS)
        proc = run(tmp_path, cadvisor_metrics_url=cadvisor.url, cadvisor_wait_retries=3)
    assert proc.returncode != 0, proc.stdout
    sentence = (
        "cAdvisor answers on {0} but has no series of the Kafka container after 3 s:"
        ' no container_last_seen{{id="{1}"}} (the cgroup of the Quadlet unit kafka.service of vagrant).'
        " It exports container_last_seen for 4 cgroup(s): /, /system.slice, /system.slice/sshd.service,"
        " /user.slice.".format(cadvisor.url, KAFKA_CGROUP)
    )
    assert sentence in proc.stdout, proc.stdout
    assert "cAdvisor must read the cgroup tree (/sys/fs/cgroup) and the user's podman socket" in proc.stdout


def test_waits_until_the_kafka_cgroup_series_appears(tmp_path):
    """cAdvisor answers first without the container (housekeeping not done yet), then with it."""
    with MetricsTarget() as cadvisor:
        cadvisor_like(cadvisor, OTHER_CGROUPS)
        proc = subprocess.Popen(
            [
                str(BIN / "ansible-playbook"),
                str(playbook(tmp_path, cadvisor_metrics_url=cadvisor.url)),
                "-i",
                "localhost,",
                "-c",
                "local",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            env=ansible_env(),
        )
        try:
            wait_for(lambda: cadvisor.scrapes >= 2, timeout=60, what="the role polling cAdvisor")
            assert proc.poll() is None, "the role stopped waiting: " + proc.stdout.read()
            cadvisor_like(cadvisor, [KAFKA_CGROUP])
            out = proc.communicate(timeout=60)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, out
    assert "FAILED - RETRYING" in out  # it did wait


def test_the_uid_and_unit_make_the_cgroup(tmp_path):
    other = "/user.slice/user-1001.slice/user@1001.service/app.slice/broker.service"
    with MetricsTarget() as cadvisor:
        cadvisor_like(cadvisor, [*OTHER_CGROUPS, KAFKA_CGROUP, other])
        assert run(tmp_path, cadvisor_metrics_url=cadvisor.url).returncode == 0
        proc = run(
            tmp_path, cadvisor_metrics_url=cadvisor.url, _common_user_uid="1001", cadvisor_kafka_unit="broker.service"
        )
        assert proc.returncode == 0, proc.stdout
        proc = run(
            tmp_path, cadvisor_metrics_url=cadvisor.url, cadvisor_kafka_unit="nokafka.service", cadvisor_wait_retries=1
        )
        assert proc.returncode != 0
        assert "app.slice/nokafka.service" in proc.stdout and "6 cgroup(s)" in proc.stdout


def test_empty_kafka_unit_only_waits_for_the_endpoint(tmp_path):
    with MetricsTarget() as cadvisor:
        cadvisor_like(cadvisor, OTHER_CGROUPS)
        assert run(tmp_path, cadvisor_metrics_url=cadvisor.url, cadvisor_kafka_unit="").returncode == 0


def test_an_endpoint_that_does_not_answer_200_fails_clearly(tmp_path):
    with MetricsTarget() as cadvisor:
        url = "http://{0}/nope".format(cadvisor.address)
        proc = run(tmp_path, cadvisor_metrics_url=url, cadvisor_wait_retries=2)
    assert proc.returncode != 0
    assert "cAdvisor does not answer on {0} after 2 s (HTTP 404: ".format(url) in proc.stdout, proc.stdout
