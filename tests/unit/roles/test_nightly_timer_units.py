"""playbooks/nightly_timer.yml: the nightly timer's units rendered from extras/systemd/*.j2.

Rendered for real (ansible-playbook on localhost, nightly_timer_unit_dir in a temporary
directory, not enabled: this machine runs no systemd) and checked by systemd-analyze, which
the playbook itself runs before writing.
"""

import os
import pwd
import re

from tests.support.ansible_run import REPO, run_playbook

PLAYBOOK = REPO / "playbooks" / "nightly_timer.yml"
USER = pwd.getpwuid(os.getuid()).pw_name


def render(tmp_path, **extra):
    units = tmp_path / "units"
    units.mkdir(exist_ok=True)
    values = {"nightly_timer_unit_dir": str(units), "nightly_timer_enable": False, "nightly_timer_become": False}
    values.update(extra)
    proc = run_playbook(PLAYBOOK, inventory="localhost,", extra_vars=values, args=["-c", "local"])
    return proc, units


def checkout(tmp_path, name="my checkout"):
    """A checkout elsewhere (with a space in its path): the playbook, the inventory, ansible-playbook."""
    root = tmp_path / name
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "nightly.yml").write_text("---\n")
    (root / "inventory" / "prod").mkdir(parents=True)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "ansible-playbook").symlink_to(REPO / ".venv" / "bin" / "ansible-playbook")
    return root


def recap_changed(stdout):
    return int(re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout).group(1))


def test_defaults_follow_the_checkout_and_the_user_not_ansible_and_opt(tmp_path):
    proc, units = render(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    service = (units / "kafka-observability-nightly.service").read_text()
    timer = (units / "kafka-observability-nightly.timer").read_text()
    assert "User={0}\n".format(USER) in service
    assert "WorkingDirectory={0}\n".format(REPO) in service
    assert (
        "ExecStart={0}/.venv/bin/ansible-playbook -i inventory/vagrant playbooks/nightly.yml\n".format(REPO) in service
    )
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in service
    assert "TimeoutStartSec=45min\n" in service and "Type=oneshot\n" in service
    assert "User=ansible" not in service and "/opt" not in service
    assert "OnCalendar=*-*-* 02:30:00\n" in timer and "RandomizedDelaySec=10min\n" in timer
    assert "Persistent=true\n" in timer and "WantedBy=timers.target\n" in timer
    # idempotent
    proc = render(tmp_path)[0]
    assert proc.returncode == 0 and recap_changed(proc.stdout) == 0, proc.stdout


def test_every_setting_is_a_variable_and_odd_paths_are_quoted(tmp_path):
    root = checkout(tmp_path)
    vault = tmp_path / "vault password"
    vault.write_text("secret\n")
    proc, units = render(
        tmp_path,
        nightly_timer_user="root",
        nightly_timer_checkout_dir=str(root),
        nightly_timer_ansible_playbook=str(root / ".venv" / "bin" / "ansible-playbook"),
        nightly_timer_inventory="inventory/prod",
        nightly_timer_vault_password_file=str(vault),
        nightly_timer_extra_args=["-e", "verification_drill_enabled=true", "-e", "note=50% $HOME"],
        nightly_timer_schedule="Mon..Fri *-*-* 03:15:00",
        nightly_timer_randomized_delay="5min",
        nightly_timer_timeout="1h",
        nightly_timer_name="kafka-nightly-prod",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    service = (units / "kafka-nightly-prod.service").read_text()
    timer = (units / "kafka-nightly-prod.timer").read_text()
    assert "User=root\n" in service
    assert "WorkingDirectory={0}\n".format(root) in service
    assert 'Environment="ANSIBLE_VAULT_PASSWORD_FILE={0}"\n'.format(vault) in service
    assert (
        'ExecStart="{0}/.venv/bin/ansible-playbook" -i inventory/prod playbooks/nightly.yml'
        ' -e verification_drill_enabled=true -e "note=50%% $$HOME"\n'.format(root)
    ) in service
    assert "TimeoutStartSec=1h\n" in service
    assert "OnCalendar=Mon..Fri *-*-* 03:15:00\n" in timer and "RandomizedDelaySec=5min\n" in timer


def test_a_bad_schedule_fails_in_one_sentence_and_writes_nothing(tmp_path):
    proc, units = render(tmp_path, nightly_timer_schedule="every night at half past two")
    assert proc.returncode != 0
    assert (
        "nightly_timer_schedule 'every night at half past two' is not a systemd calendar expression"
        " (systemd-analyze calendar says: Failed to parse calendar specification"
    ) in proc.stdout, proc.stdout
    assert "Nothing was written." in proc.stdout
    assert list(units.iterdir()) == []


def test_missing_files_and_users_fail_in_one_sentence_and_write_nothing(tmp_path):
    root = checkout(tmp_path, "elsewhere")
    not_a_program = tmp_path / "ansible-playbook.txt"
    not_a_program.write_text("")
    not_a_program.chmod(0o644)
    cases = [
        ({"nightly_timer_user": "no-such-user-dojo"}, "nightly_timer_user 'no-such-user-dojo' is no user on localhost"),
        (
            {"nightly_timer_checkout_dir": str(root), "nightly_timer_inventory": "inventory/nope"},
            "The inventory {0}/inventory/nope does not exist on localhost (nightly_timer_inventory)".format(root),
        ),
        (
            {"nightly_timer_vault_password_file": str(tmp_path / "nope")},
            "The vault password file {0} does not exist".format(tmp_path / "nope"),
        ),
        (
            {"nightly_timer_ansible_playbook": str(not_a_program)},
            "ansible-playbook {0} is not executable on localhost (nightly_timer_ansible_playbook)".format(
                not_a_program
            ),
        ),
    ]
    for extra, sentence in cases:
        proc, units = render(tmp_path, **extra)
        assert proc.returncode != 0
        assert sentence in proc.stdout, proc.stdout
        assert "Nothing was written." in proc.stdout
        assert list(units.iterdir()) == []
