"""Fixtures of the stand-in unit tests (defined in standin_helpers)."""

from tests.unit.standins.standin_helpers import recorder, run_standin  # noqa: F401  # pylint: disable=unused-import  (pytest fixtures)
