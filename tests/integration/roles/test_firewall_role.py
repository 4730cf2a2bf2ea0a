"""The firewall role run for real on a host without firewalld (this controller): left as found.

firewalld itself runs in the lab (`make lab`: opened ports seen from serverapp, a port not
opened refused). Here: a host without firewalld is neither given one nor failed, and nothing
is started; the defaults leave firewalld's state alone.
"""

import os
import shutil

import pytest

from .conftest import run_role

pytestmark = pytest.mark.slow


@pytest.fixture
def no_firewalld():
    if os.path.exists("/usr/bin/firewall-cmd") or shutil.which("firewall-cmd"):
        pytest.fail("this test runs the firewall role on this machine: it needs a machine without firewalld")


def test_a_host_without_firewalld_is_left_as_found(tmp_path, no_firewalld):
    # firewall_install is given (false, the new default) so that no version of the role installs anything here
    extra = {"firewall_install": False, "firewall_ports": ["9090/tcp"], "firewall_sources": ["192.168.56.0/24"]}
    proc = run_role(tmp_path, "firewall", extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "firewalld is not installed on localhost (/usr/bin/firewall-cmd is missing)" in proc.stdout
    assert proc.recap["changed"] == 0
    assert not os.path.exists("/usr/bin/firewall-cmd")
    # check mode says the same
    proc = run_role(tmp_path, "firewall", extra, check=True)
    assert proc.returncode == 0 and proc.recap["changed"] == 0, proc.stdout


def test_bad_input_fails_before_anything_is_looked_at(tmp_path, no_firewalld):
    proc = run_role(tmp_path, "firewall", {"firewall_install": False, "firewall_sources": ["192.168.56.0/33"]})
    assert proc.returncode != 0
    assert "'192.168.56.0/33' is not a source firewalld accepts" in proc.stdout
    assert "Gather the minimal facts" not in proc.stdout
