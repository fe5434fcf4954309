"""`incident-console gameday list | generate`, run as a user would (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pyarrow.parquet as pq

from console.gameday.scenarios import SCENARIOS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", "gameday", *args], capture_output=True, text=True
    )


def test_list_shows_every_scenario_with_its_title():
    done = run("list")
    assert done.returncode == 0, done.stderr
    for name, scenario in SCENARIOS.items():
        assert name in done.stdout and scenario.title in done.stdout


def test_generate_writes_a_scenario_folder(tmp_path):
    out = tmp_path / "nan"
    done = run("generate", "fraud-friday-noon", "--out", str(out), "--rows", "3000", "--seed", "9")
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    assert pq.read_metadata(out / "decisions.parquet").num_rows == 3000
    card = tomllib.loads((out / "scenario.toml").read_text())
    assert (card["rows"], card["seed"], card["playbook"]) == (3000, 9, "playbook.toml")
    assert sorted(p.name for p in out.iterdir()) == [
        "answer.toml", "changes.parquet", "decisions.parquet",
        "metrics.parquet", "playbook.toml", "scenario.toml",
    ]  # fmt: skip


def test_unknown_scenario_is_one_line_on_stderr_and_exit_2(tmp_path):
    done = run("generate", "fraud-nan", "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert "no game-day scenario 'fraud-nan'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x" / "decisions.parquet").exists()


def test_help_has_an_example():
    done = run("generate", "--help")
    assert done.returncode == 0
    assert "example:" in done.stdout and "incident-console gameday generate" in done.stdout


def test_scenario_ids_name_the_symptom_never_the_answer():
    """A player picks a game day from `gameday list`: its id must not give the case away.

    Each word of an id after the domain comes from the title (what the alert shows), and no
    word names the answer's node, its edge, its kind or a word of its explanation's cause.
    """
    for name, scenario in SCENARIOS.items():
        words = name.split("-")[1:]
        assert words, name
        title = scenario.title.lower()
        for word in words:
            assert word in title, (name, word, scenario.title)
        answer = scenario.answer
        secret = {scenario.answer.kind, *answer.kind.split("_"), *answer.edge, answer.node}
        for node in (*answer.edge, answer.node):
            secret.update(part for part in node.split("_") if len(part) > 2)
        assert not secret & set(words), (name, secret & set(words))
