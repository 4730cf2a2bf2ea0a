"""Fixtures of the stand-in unit tests (defined in standin_helpers)."""

# pytest finds fixtures by name in conftest.py: importing them is the point
# pylint: disable=unused-import
from tests.unit.standins.standin_helpers import recorder, run_standin  # noqa: F401
