"""console.audit's public names load on first use, each from the module that defines it: every
name in __all__ resolves to that module's object, and importing the package loads none of the
heavy modules (the exporter, the verifier, the trail)."""

from __future__ import annotations

import importlib

from loaded_modules import loaded_by

import console.audit as audit


def test_every_public_name_is_its_defining_module_object():
    assert sorted(audit.__all__) == sorted(audit._HOME)
    for name in audit.__all__:
        module = importlib.import_module(f"console.audit.{audit._HOME[name]}")
        assert getattr(audit, name) is getattr(module, name), name


def test_an_unknown_name_is_an_attribute_error():
    try:
        audit.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("console.audit.no_such_name resolved")


def test_importing_the_package_and_an_entry_loads_no_exporter_verifier_or_trail():
    code = "from console.audit import Entry\nfrom console.audit.vocabulary import Step"
    heavy = ("console.audit.export", "console.audit.verification", "console.audit.trail")
    assert loaded_by(code, heavy) == []
