"""console.audit's public names load on first use, each from the module that defines it: every
name in __all__ resolves to that module's object, and importing the package loads none of the
heavy modules (the exporter, the verifier, the trail)."""

from __future__ import annotations

import importlib
import subprocess
import sys

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
    code = (
        "import sys\n"
        "from console.audit import Entry\n"
        "from console.audit.vocabulary import Step\n"
        "heavy = ('console.audit.export', 'console.audit.verification', 'console.audit.trail')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
