"""The prometheus_alerts role's rule file, rendered through Ansible, checked and unit-tested with promtool.

promtool test files are in tests/unit/rules/: kafka-alerts.test.yml (role defaults),
kafka-alerts-custom.test.yml (CUSTOM_VARS) and seed-kafka-alerts.test.yml (the runbook's
rule, showing the hole the role's rule closes).
"""

import json
import subprocess

import yaml

from tests.support.ansible_run import run_playbook

from .conftest import ROLES, copy_into, render_role_template

CUSTOM_VARS = {
    "prometheus_alerts_scrape_job": "cadvisor",
    "prometheus_alerts_kafka_unit": "broker.service",
    "prometheus_alerts_down_after": 60,
    "prometheus_alerts_down_for": "2m",
    "prometheus_alerts_down_labels": {"severity": "page", "service": "kafka", "team": "data"},
    "prometheus_alerts_cpu_threshold": 1.5,
    "prometheus_alerts_cpu_for": "2m",
    "prometheus_alerts_memory_threshold_bytes": 1073741824,
    "prometheus_alerts_memory_for": "1m",
    "prometheus_alerts_usage_labels": {"severity": "ticket", "service": "kafka"},
    "prometheus_alerts_extra_rules": [
        {
            "alert": "KafkaContainerRestarting",
            "expr": 'changes(container_start_time_seconds{name="broker"}[15m]) > 2',
            "labels": {"severity": "warning", "service": "kafka"},
        }
    ],
}
ALERTS = ["KafkaContainerDown", "KafkaCadvisorDown", "KafkaContainerHighCpu", "KafkaContainerHighMemory"]


def promtool_run(promtool, *args, cwd):
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def render(tmp_path, var_sets):
    return render_role_template(tmp_path, "prometheus_alerts", "kafka-alerts.yml.j2", var_sets)


def run_rule_tests(promtool, tmp_path, rules_text, test_file):
    work = tmp_path / test_file.stem
    work.mkdir()
    (work / "kafka-alerts.yml").write_text(rules_text)
    copy_into(test_file, work)
    checked = promtool_run(promtool, "check", "rules", "kafka-alerts.yml", cwd=work)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool_run(promtool, "test", "rules", test_file.name, cwd=work)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_default_rules_pass_promtool_tests(tmp_path, promtool, rules_dir):
    (text,) = render(tmp_path, [{}])
    group = yaml.safe_load(text)["groups"][0]
    assert group["name"] == "kafka-alerts"
    assert [rule["alert"] for rule in group["rules"]] == ALERTS
    down = group["rules"][0]
    # the runbook's intent, labels and annotations (its unterminated quote fixed)
    assert down["for"] == "1m"
    assert down["labels"] == {"severity": "critical", "service": "kafka"}
    assert down["annotations"] == {
        "summary": "Le conteneur kafka ne répond plus",
        "description": "Le conteneur kafka n\u2019est plus accessible depuis plus de 30 secondes.",
    }
    assert "time() - container_last_seen{" in down["expr"] and "> 30" in down["expr"]
    run_rule_tests(promtool, tmp_path, text, rules_dir / "kafka-alerts.test.yml")


def test_custom_variables_reach_the_rules(tmp_path, promtool, rules_dir):
    (text,) = render(tmp_path, [CUSTOM_VARS])
    rules = yaml.safe_load(text)["groups"][0]["rules"]
    assert [rule["alert"] for rule in rules] == [*ALERTS, "KafkaContainerRestarting"]
    run_rule_tests(promtool, tmp_path, text, rules_dir / "kafka-alerts-custom.test.yml")


def test_explicit_selector_replaces_the_derived_one(tmp_path, promtool):
    (text,) = render(tmp_path, [{"prometheus_alerts_kafka_selector": 'name="kafka"'}])
    exprs = [rule["expr"] for rule in yaml.safe_load(text)["groups"][0]["rules"]]
    assert 'container_last_seen{name="kafka"}' in exprs[0]
    assert "id=~" not in text
    (tmp_path / "custom.yml").write_text(text)
    checked = promtool_run(promtool, "check", "rules", "custom.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_seed_rule_goes_silent_while_kafka_is_down(tmp_path, promtool, rules_dir):
    """Documents the hole: the runbook's rule resolves at +5 min (and never fires with staleness)."""
    copy_into(rules_dir / "seed-kafka-alerts.yml", tmp_path)
    copy_into(rules_dir / "seed-kafka-alerts.test.yml", tmp_path)
    tested = promtool_run(promtool, "test", "rules", "seed-kafka-alerts.test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_role_rules_fail_the_seed_expectations_and_vice_versa(tmp_path, promtool, rules_dir):
    """The default test file really tells the two rules apart (the seed's rule fails it)."""
    work = tmp_path / "swap"
    work.mkdir()
    copy_into(rules_dir / "seed-kafka-alerts.yml", work, "kafka-alerts.yml")
    copy_into(rules_dir / "kafka-alerts.test.yml", work)
    tested = promtool_run(promtool, "test", "rules", "kafka-alerts.test.yml", cwd=work)
    assert tested.returncode != 0
    assert "time: 15m" in tested.stdout + tested.stderr


def test_invalid_promql_in_a_variable_is_rejected_by_promtool(tmp_path, promtool):
    """What the role's validation step sees when a variable holds broken PromQL."""
    bad_selector, bad_extra = render(
        tmp_path,
        [
            {"prometheus_alerts_kafka_selector": 'id=~"("'},
            {"prometheus_alerts_extra_rules": [{"alert": "Broken", "expr": "rate(foo[5m]"}]},
        ],
    )
    for name, text, message in (
        ("selector.yml", bad_selector, "error parsing regexp"),
        ("extra.yml", bad_extra, "unclosed left parenthesis"),
    ):
        (tmp_path / name).write_text(text)
        checked = promtool_run(promtool, "check", "rules", name, cwd=tmp_path)
        assert checked.returncode != 0
        assert message in checked.stdout + checked.stderr


def test_the_selectors_checked_are_those_of_every_rule_outside_absent(tmp_path):
    """__prometheus_alerts_rule_selectors (what the role checks against the live Prometheus): every
    vector selector of every rule, each rule's once, those inside absent()/absent_over_time() left
    out - unless the same selector is also outside (KafkaCadvisorDown's up{job=...})."""
    role_dir = ROLES / "prometheus_alerts"
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"alert": "Down", "expr": 'up{job="c"} == 0 or absent(up{job="c"})'},
                    {"alert": "Gone", "expr": 'absent_over_time(foo{id=~"(a|b)"}[5m]) and on() bar'},
                    {"record": "r:sum", "expr": 'sum by (id) (rate(x{id="/a)"}[5m]))'},
                ],
            }
        ]
    }
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(role_dir / "defaults" / "main.yml"), str(role_dir / "vars" / "main.yml")],
            "vars": {"__prometheus_alerts_rules_content": yaml.safe_dump(rules)},
            "tasks": [{"ansible.builtin.debug": {"msg": "{{ __prometheus_alerts_rule_selectors | to_json }}"}}],
        }
    ]
    playbook = tmp_path / "selectors.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"], env={"ANSIBLE_STDOUT_CALLBACK": "json"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])
    assert [(s["rule"], s["selector"], s["labels"]) for s in found] == [
        ("Down", 'up{job="c"}', ["job"]),
        ("Gone", "bar", []),
        ("r:sum", 'x{id="/a)"}', ["id"]),
    ]
