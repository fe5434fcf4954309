"""The layering rule of docs/architecture.md: nothing below console/ui imports textual."""

import subprocess
import sys

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


def test_no_package_below_the_ui_loads_textual():
    # One interpreter imports every module of each package in turn and names the first
    # package after which textual is loaded: nothing earlier loaded it, so that package did.
    # (An interpreter a package took five times as long, for the same answer.)
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {ENGINE_PACKAGES!r}:\n"
        "    pkg = importlib.import_module(name)\n"
        "    for m in pkgutil.walk_packages(getattr(pkg, '__path__', []), name + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "    bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "    if bad:\n"
        "        sys.exit(f'{name} loads textual: {bad[:3]}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_help_builds_without_textual():
    code = (
        "import sys\n"
        "from console.cli import build_parser\n"
        "build_parser()\n"
        "sys.exit(1 if 'textual' in sys.modules else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
