"""The layering rule of docs/architecture.md: nothing below console/ui imports textual."""

import subprocess
import sys

import pytest

ENGINE_PACKAGES = [
    "console.files",
    "console.playbook",
    "console.telemetry",
    "console.audit",
    "console.engine",
    "console.scoring",
    "console.gameday",
    "console.cli",
    "console.commands",
]


@pytest.mark.parametrize("package", ENGINE_PACKAGES)
def test_package_does_not_load_textual(package):
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for m in pkgutil.walk_packages(getattr(pkg, '__path__', []), pkg.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad[:3])\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"{package} loads textual: {done.stdout}{done.stderr}"


def test_cli_help_builds_without_textual():
    code = (
        "import sys\n"
        "from console.cli import build_parser\n"
        "build_parser()\n"
        "sys.exit(1 if 'textual' in sys.modules else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
