"""A missing optional package is named with the extra that installs it, read from the
installed package's metadata (the development install has every extra declared)."""

from __future__ import annotations

import pytest

from crm_bridge.errors import ConfigError
from crm_bridge.extras import extra_providing, missing_extra


def _missing(name: str) -> ModuleNotFoundError:
    exc = ModuleNotFoundError(f"No module named '{name}'")
    exc.name = name
    return exc


@pytest.mark.parametrize(("module", "extra"), [
    ("zeep", "lagan"), ("lxml", "open311"), ("psycopg", "postgres"), ("yaml", None),
])
def test_each_optional_package_maps_to_its_own_extra_not_dev(module: str,
                                                             extra: str | None) -> None:
    assert extra_providing("crm-bridge", module) == extra


def test_the_message_names_the_packages_and_the_command() -> None:
    error = missing_extra("the lagan connector", _missing("zeep.transports"))
    assert isinstance(error, ConfigError)
    assert str(error) == "the lagan connector needs zeep and lxml: pip install 'crm-bridge[lagan]'"
    error = missing_extra("the PostgreSQL store", _missing("psycopg"))
    assert str(error) == "the PostgreSQL store needs psycopg: pip install 'crm-bridge[postgres]'"


def test_a_part_is_told_to_install_its_own_extra_when_that_provides_the_module() -> None:
    """lxml is in both [lagan] and [open311]: the lagan connector is told [lagan]."""
    error = missing_extra("the lagan connector", _missing("lxml"), prefer="lagan")
    assert str(error) == "the lagan connector needs lxml and zeep: pip install 'crm-bridge[lagan]'"
    error = missing_extra("the open311 connector", _missing("lxml"), prefer="open311")
    assert str(error) == "the open311 connector needs lxml: pip install 'crm-bridge[open311]'"


def test_a_module_no_extra_provides_is_reported_as_a_broken_install() -> None:
    error = missing_extra("the acme connector", _missing("acme_soap"), "acme-crm-connector")
    assert str(error) == ("the acme connector cannot be loaded (No module named 'acme_soap'): "
                          "reinstall acme-crm-connector with its dependencies")
