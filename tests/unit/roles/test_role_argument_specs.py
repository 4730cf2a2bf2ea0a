"""Every role of the collection: defaults/main.yml and meta/argument_specs.yml agree.

Checked for all roles under roles/ (not only some): same option names as defaults, every
option described and typed, the spec's `default` equal to the defaults value, names
prefixed with the role name, internal vars prefixed `__<role>_`, the meta platforms, and
the defaults accepted by Ansible's own argument-spec validation (templated defaults,
which only have a value at run time, are left out of that last check).
"""

import json

import pytest
import yaml

from tests.support.ansible_run import REPO, run_playbook

ROLES_DIR = REPO / "roles"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "tasks" / "main.yml").exists())
# the provisioning roles of issue 5 (their READMEs document every variable)
PROVISIONING = ["alertmanager_slack", "cadvisor", "firewall", "kcat", "podman_socket", "prometheus_alerts"]
PLATFORMS = {"EL": {"9", "10"}, "Fedora": {"all"}, "Debian": {"bookworm", "trixie"}}


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def spec_options(role):
    return load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def defaults(role):
    return load(ROLES_DIR / role / "defaults" / "main.yml")


def test_the_provisioning_roles_exist():
    assert set(PROVISIONING) <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_keys_equal_argument_spec_options(role):
    options = spec_options(role)
    values = defaults(role)
    assert set(values) - set(options) == set(), "in defaults/main.yml, not in meta/argument_specs.yml"
    assert set(options) - set(values) == set(), "in meta/argument_specs.yml, not in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_options_are_described_typed_and_defaults_agree(role):
    values = defaults(role)
    for name, option in spec_options(role).items():
        assert option.get("description"), name
        assert option.get("type"), name
        if "default" in option:
            assert option["default"] == values[name], name
        if option["type"] == "list":
            assert option.get("elements"), name
        if "choices" in option:
            assert values[name] in option["choices"], name


@pytest.mark.parametrize("role", ROLES)
def test_variables_carry_the_role_prefix(role):
    for name in defaults(role):
        assert name.startswith(role + "_"), name
    for vars_file in (ROLES_DIR / role / "vars").glob("*.yml"):
        for name in load(vars_file):
            assert name.lstrip("_").startswith(role + "_") and name.startswith("_"), "{0}: {1}".format(
                vars_file.name, name
            )


@pytest.mark.parametrize("role", PROVISIONING)
def test_meta_platforms_and_family_vars(role):
    meta = load(ROLES_DIR / role / "meta" / "main.yml")["galaxy_info"]
    platforms = {entry["name"]: set(entry["versions"]) for entry in meta["platforms"]}
    assert platforms == PLATFORMS
    family_files = sorted(path.name for path in (ROLES_DIR / role / "vars").glob("*.yml") if path.name != "main.yml")
    if family_files:
        # the OS-family files define the same variables
        keys = {name: set(load(ROLES_DIR / role / "vars" / name)) for name in family_files}
        assert len({frozenset(k) for k in keys.values()}) == 1, keys
        assert {"Debian.yml", "RedHat.yml"} <= set(family_files)


@pytest.mark.parametrize("role", PROVISIONING)
def test_readme_documents_every_variable(role):
    readme = (ROLES_DIR / role / "README.md").read_text()
    missing = [name for name in defaults(role) if "`{0}`".format(name) not in readme]
    assert missing == []


def test_defaults_pass_ansible_argument_spec_validation(tmp_path):
    """Ansible's own validation (types, choices, elements) accepts each role's defaults."""

    def literal(value):
        return "{{" not in json.dumps(value) and "{%" not in json.dumps(value)

    tasks = []
    for role in ROLES:
        spec = {
            name: {key: value for key, value in option.items() if key in ("type", "elements", "choices", "required")}
            for name, option in spec_options(role).items()
        }
        provided = {name: value for name, value in defaults(role).items() if literal(value)}
        tasks.append(
            {
                "name": "validate the defaults of {0}".format(role),
                "ansible.builtin.validate_argument_spec": {"argument_spec": spec, "provided_arguments": provided},
            }
        )
    playbook = tmp_path / "validate.yml"
    playbook.write_text(json.dumps([{"name": "v", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("role", "bad", "message"),
    [
        ("cadvisor", {"cadvisor_pull": "sometimes"}, "cadvisor_pull"),
        ("prometheus_alerts", {"prometheus_alerts_reload_method": "kill"}, "prometheus_alerts_reload_method"),
        ("prometheus_alerts", {"prometheus_alerts_cpu_threshold": "lots"}, "prometheus_alerts_cpu_threshold"),
        ("alertmanager_slack", {"alertmanager_slack_reload_method": "sighup"}, "alertmanager_slack_reload_method"),
        ("firewall", {"firewall_ports": {"9882": "tcp"}}, "firewall_ports"),
    ],
)
def test_bad_variable_values_fail_before_any_task(tmp_path, role, bad, message):
    """The role's argument spec rejects a wrong type/choice at role start, naming the variable."""
    play = [
        {
            "name": "bad input",
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [{"role": "dojo.kafka_observability." + role, "vars": bad}],
        }
    ]
    playbook = tmp_path / "bad.yml"
    playbook.write_text(json.dumps(play))
    proc = run_playbook(playbook, inventory="localhost,", args=["-c", "local"])
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Validating arguments against arg spec" in output
    assert message in output
