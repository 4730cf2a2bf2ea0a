"""Fixtures of the lab scenario's testinfra tests: one testinfra host per lab guest.

molecule runs pytest with --connection=ansible --ansible-inventory=<its inventory>; the
tests address the guests by name (and across hosts: serverapp -> broker) through it.
"""

import time

import pytest
import testinfra

UID = 1000
USER_ENV = "XDG_RUNTIME_DIR=/run/user/{0}".format(UID)


def _lab_host(pytestconfig, name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=pytestconfig.option.ansible_inventory)


@pytest.fixture(scope="session")
def broker(pytestconfig):
    return _lab_host(pytestconfig, "broker.lab")


@pytest.fixture(scope="session")
def serverapp(pytestconfig):
    return _lab_host(pytestconfig, "serverapp.lab")


@pytest.fixture(scope="session")
def monitoring(pytestconfig):
    return _lab_host(pytestconfig, "monitoring.lab")


@pytest.fixture(scope="session")
def address():
    """The guests' addresses (inventory/lab/hosts.yml)."""
    return {"broker": "10.231.56.209", "serverapp": "10.231.56.210", "monitoring": "10.231.56.211"}


def _user_systemctl(host, *args):
    return host.run("{0} systemctl --user {1}".format(USER_ENV, " ".join(args)))


def _poll(check, what, deadline_s=60.0, interval_s=0.5):
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "{0}: not true after {1:.0f}s".format(what, deadline_s)
            return value
        time.sleep(interval_s)


@pytest.fixture(scope="session")
def user_systemctl():
    """`systemctl --user ARGS` as vagrant (the connection user) with its runtime directory."""
    return _user_systemctl


@pytest.fixture(scope="session")
def poll():
    """poll(check, what, deadline_s): call check() until truthy or the deadline; never a fixed sleep."""
    return _poll
