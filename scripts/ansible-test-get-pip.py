"""Offline replacement for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com to put pip into the
virtual environments it creates for sanity tests; that host is not reachable here, PyPI is.
ansible-test runs this file as __main__ with get-pip's arguments: bootstrap pip with the
interpreter's own ensurepip, then let pip install the requested packages from PyPI.

`python ansible-test-get-pip.py --pip-version` prints the pip version the installed
ansible-test asks for (the Makefile names the cached copy after it).
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def wanted_pip_version():
    from ansible_test._internal.python_requirements import get_venv_packages  # noqa: PLC0415

    class _Python:  # get_venv_packages only reads .version
        version = "{0}.{1}".format(*sys.version_info[:2])

    return get_venv_packages(_Python())["pip"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--pip-version"]:
        print(wanted_pip_version())
        sys.exit(0)
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
