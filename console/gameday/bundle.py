"""Regenerate every bundled scenario in sample_data/ with its default rows and seed.

    python -m console.gameday.bundle

The committed files are exactly what this writes (a test regenerates them and compares).
"""

from __future__ import annotations

from console.gameday.generate import generate_scenario
from console.gameday.scenarios import SCENARIOS
from console.paths import scenario_dir


def main() -> int:
    for name in SCENARIOS:
        out = generate_scenario(name, scenario_dir(name))
        size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
        print(f"{name}: {out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
