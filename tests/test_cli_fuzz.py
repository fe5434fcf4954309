"""The command line driven with hostile values, arguments and telemetry alike.

Whatever is typed or stored, a command ends with exit status 0, 1 or 2, at most one message
line on stderr (a check may list its problems under it, "  - " each), never a traceback, and
nothing it prints holds a control character other than newline and tab: no ESC (an OSC title
or CSI sequence), no C1 control, no byte that is not UTF-8.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from console.audit import Trail
from console.cli import main
from console.gameday.generate import generate_scenario
from console.paths import scenario_dir

BOOK = scenario_dir("credit-after-lunch") / "playbook.toml"
# Any C0 control but newline and tab, DEL, any C1 control.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
EVIL = "\x1b]0;PWNED\x07\x1b[2J\x9b31m[b]x[/b]\u202e"

# Text a person (or an attacker) can put in an argument: escapes, markup, a lone surrogate
# (how Python passes bytes that are not UTF-8), layout characters, digits and time-like bits.
hostile_text = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            list("aZ09 -:.+TZ[]/=\\'\"é")
            + ["\x1b", "\x07", "\x9b", "\x7f", "\r", "\n", "\t", "\u202e", "\udcff", "\x08"]
        ),
        max_size=24,
    ),
    st.sampled_from(
        [
            "",
            "-",
            EVIL,
            "0001-01-01T03:00:00Z",
            "0001-01-01T00:00+01:00",
            "9999-12-31T23:59:59-05:00",
            "nan",
            "inf",
            "-1",
            "0",
            "99999999999999999999",
            "[link=file:///etc/passwd]x[/link]",
        ]
    ),
)


def run(argv: list[str]) -> tuple[int, str, str]:
    """main() in-process, as the console script calls it; its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_safe(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), (code, err)
    for stream in (out, err):
        assert not CONTROL.search(stream), repr(stream)
        stream.encode("utf-8")  # strict: no lone surrogate reaches the terminal
    assert "Traceback" not in err
    messages = [line for line in err.splitlines() if not line.startswith("  - ")]
    assert len(messages) <= 1, err
    if code:
        assert messages and messages[0].startswith("incident-console"), err


@pytest.fixture(scope="module")
def trail_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "inc"
    with Trail.open(folder, actor="fuzzer") as trail:
        trail.append("triage", "triage", {"metric": "denial_rate"}, {"verdict": EVIL})
        trail.note(f"a note {EVIL}")
    return folder


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    command=st.sampled_from(["note", "verify", "export", "graph", "open", "investigate", "usage"]),
    a=hostile_text,
    b=hostile_text,
    c=hostile_text,
)
@example(command="investigate", a="0001-01-01T03:00:00Z", b="", c="")
@example(command="note", a="x", b="x", c="")  # --step ""
@example(command="note", a="a\udcff", b="\udcfe", c="note")  # bytes that are not UTF-8
def test_hostile_arguments(trail_dir, tmp_path, monkeypatch, command, a, b, c):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no keymap of the machine's user
    argv = {
        "note": ["trail", "note", str(trail_dir), a, "--actor", b, "--step", c],
        "verify": ["trail", "verify", str(trail_dir), "--head", a],
        "export": [
            "trail", "export", str(trail_dir), "--format", "md",
            "--out", str(tmp_path / "t.md"), "--tz", a,
        ],
        "graph": ["playbook", "graph", str(BOOK), "--node", a, "--depth", b],
        # A playbook that is not there: open always stops before the screen changes.
        "open": ["open", str(tmp_path / "none.toml"), "--telemetry", c, "--alert-at", a],
        "investigate": [
            "investigate", str(BOOK), "--telemetry", str(BOOK.parent), "--auto",
            "--incident-dir", str(tmp_path / "inc"), "--alert-at", a, "--actor", b,
        ],
        "usage": ["trail", "verify", str(trail_dir), a, "--no-such-option", b],
    }[command]  # fmt: skip
    assert_safe(*run(argv))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("telemetry") / "recs"
    generate_scenario("recs-weekday-afternoon", folder, rows=2000, seed=3)
    return folder


def _with_values(source: Path, target: Path, text: str, number: float) -> None:
    """A copy of the scenario whose change events, genres, segments and one numeric feature
    hold the values under test."""
    shutil.copytree(source, target)
    changes = pq.read_table(source / "changes.parquet")
    for name in ("summary", "actor"):
        index = changes.schema.get_field_index(name)
        changes = changes.set_column(index, name, pa.array([text] * changes.num_rows))
    pq.write_table(changes, target / "changes.parquet")
    decisions = pq.read_table(source / "decisions.parquet")
    for name in ("raw_item_genre", "feat_item_genre", "seg_country"):
        values = [f"{v}{text}" if i % 3 == 0 else v for i, v in enumerate(decisions[name])]
        index = decisions.schema.get_field_index(name)
        decisions = decisions.set_column(index, name, pa.array(map(str, values)))
    ctr = decisions["feat_user_ctr"].to_pylist()
    ctr[::13] = [number] * len(ctr[::13])
    index = decisions.schema.get_field_index("feat_user_ctr")
    decisions = decisions.set_column(index, "feat_user_ctr", pa.array(ctr, pa.float64()))
    pq.write_table(decisions, target / "decisions.parquet")


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab [/]=") + ["\x1b", "\x07", "\x9b", "\n", "\u202e"]),
        min_size=1,
        max_size=16,
    ),
    number=st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0]),
)
@example(text=EVIL, number=float("nan"))
def test_hostile_telemetry_values(scenario, tmp_path_factory, text, number):
    folder = tmp_path_factory.mktemp("values")
    _with_values(scenario, folder / "data", text, number)
    book = str(folder / "data" / "playbook.toml")
    for argv in (
        ["telemetry", "check", "--playbook", book, "--telemetry", str(folder / "data")],
        [
            "investigate", book, "--telemetry", str(folder / "data"),
            "--incident-dir", str(folder / "inc"), "--auto",
        ],
        ["trail", "verify", str(folder / "inc")],
        ["trail", "export", str(folder / "inc"), "--format", "md", "--out", str(folder / "t.md")],
    ):  # fmt: skip
        assert_safe(*run(argv))


def test_invalid_utf8_in_argv_is_refused_by_name(trail_dir):
    """Real bytes in a real argv: the note and the actor are named, nothing is appended."""
    before = (trail_dir / "trail.jsonl").read_bytes()
    cli = [sys.executable, "-m", "console", "trail", "note", str(trail_dir).encode()]
    for extra, name in (
        ([b"caf\xe9 \xff"], b"TEXT"),
        ([b"ok", b"--actor", b"\xffroot"], b"--actor"),
    ):
        done = subprocess.run(cli + extra, capture_output=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr
        assert (
            done.stderr.startswith(b"incident-console: " + name)
            and b"not valid UTF-8" in done.stderr
        )
        assert not CONTROL.search(done.stderr.decode("utf-8"))
    assert (trail_dir / "trail.jsonl").read_bytes() == before


def test_a_tampered_entry_with_escapes_is_reported_visibly(tmp_path):
    """trail verify quotes the bad entry's step and action: a real subprocess's bytes hold
    no ESC, only its visible form."""
    folder = tmp_path / "inc"
    with Trail.open(folder, actor="t") as trail:
        trail.note("fine")
    path = folder / "trail.jsonl"
    path.write_text(path.read_text().replace('"step":"note"', '"step":"\\u001b]0;PWNED\\u0007"'))
    done = subprocess.run(
        [sys.executable, "-m", "console", "trail", "verify", str(folder)], capture_output=True
    )
    assert done.returncode == 1
    assert b"\x1b" not in done.stdout + done.stderr and b"\x07" not in done.stderr
    assert b"\\x1b]0;PWNED\\x07" in done.stderr
