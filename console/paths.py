"""Where the repository's bundled files live, resolved in one place.

The package is installed editable, so the playbooks and the bundled game-day scenarios sit
next to the `console` package, at the root of the checkout.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS_DIR = REPO_ROOT / "playbooks"
SAMPLE_DATA_DIR = REPO_ROOT / "sample_data"


def playbook_path(name: str) -> Path:
    """The authored playbook `playbooks/<name>.toml` (name without the suffix)."""
    return PLAYBOOKS_DIR / f"{name}.toml"


def scenario_dir(name: str) -> Path:
    """The bundled game-day scenario folder `sample_data/<name>`."""
    return SAMPLE_DATA_DIR / name
