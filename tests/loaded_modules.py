"""Which modules a piece of code loads: run it in a fresh interpreter (this one has loaded
everything) and name the ones of a list found in sys.modules afterwards. The start-up tests
hold the console's first frame, and the command line, to what they need."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable


def loaded_by(code: str, modules: Iterable[str]) -> list[str]:
    """The names among `modules` that are loaded once `code` has run, in their order."""
    names = tuple(modules)
    script = f"{code}\nimport sys\nprint(' '.join(m for m in {names!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
