"""The console with hostile data and a failing step: a scorer that refuses with an error body
full of terminal escapes and markup, change events and categories holding the same, a note
with an OSC title sequence. Nothing reaches the screen raw or as markup, and the failed
counterfactual reads as failed (rail and step pane), live and after a resume."""

from __future__ import annotations

import re
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import tomli_w
from test_ui_helpers import (
    ACTOR,
    copy_scenario,
    fixed_clock,
    freeze_trail_clock,
    screen_text,
    settle,
    single_threaded_duckdb,
)
from test_ui_keys import palette_found
from textual.widgets import DataTable

from console.audit import read_entries
from console.ui.modals import ConfirmModal, ErrorModal
from console.ui.steps.locate import LocatePane

# An OSC title, a screen clear, a C1 CSI, Rich markup and a bell.
EVIL = "\x1b]0;PWNED\x07\x1b[2J\x9b31m[b]bold[/b][link=http://x]l[/link]"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _refusing_scorer():
    """An http scorer that answers 422 with EVIL in its body (a 4xx is not retried)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            body = f"model rejected the rows {EVIL}".encode()
            self.send_response(422)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def scorer():
    server = _refusing_scorer()
    yield f"http://127.0.0.1:{server.server_address[1]}/score"
    server.shutdown()
    server.server_close()


def _append(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    for name in columns:
        index = table.schema.get_field_index(name)
        joined = pc.binary_join_element_wise(table[name], pa.scalar(EVIL), "")
        table = table.set_column(index, name, joined)
    return table


def hostile_game_day(tmp_path: Path, monkeypatch, url: str) -> Path:
    """The recs scenario with EVIL in change events and genres, and the http scorer."""
    folder = copy_scenario(tmp_path)
    for name, columns in (
        ("changes", ("summary", "actor")),
        ("decisions", ("raw_item_genre", "feat_item_genre")),
    ):
        path = tmp_path / folder / f"{name}.parquet"
        pq.write_table(_append(pq.read_table(path), columns), path)
    use_http_scorer(tmp_path / folder / "playbook.toml", url)
    freeze_trail_clock(monkeypatch)
    monkeypatch.chdir(tmp_path)
    single_threaded_duckdb(monkeypatch)
    return folder


def use_http_scorer(playbook: Path, url: str) -> None:
    data = tomllib.loads(playbook.read_text(encoding="utf-8"))
    old = data["scorer"]
    data["scorer"] = {
        "type": "http", "url": url, "threshold": old["threshold"], "positive": old["positive"],
        "negative": old["negative"], "timeout": 2.0, "retries": 0,
    }  # fmt: skip
    playbook.write_text(tomli_w.dumps(data), encoding="utf-8")


def open_app(folder: Path):
    from console.engine.investigation import Investigation
    from console.ui.app import GameDay, IncidentApp

    inv = Investigation.open(folder / "playbook.toml", folder, Path("inc"), actor=ACTOR)
    return inv, IncidentApp(
        inv, gameday=GameDay("recs-weekday-afternoon", folder), clock=fixed_clock
    )


def assert_clean(text: str) -> None:
    """No control character on screen (an escape shows as its visible `\\x1b`)."""
    assert not CONTROL.search(text), repr(CONTROL.search(text).group(0))


async def test_hostile_data_is_shown_as_typed_never_as_escapes_or_markup(
    tmp_path, monkeypatch, scorer
):
    folder = hostile_game_day(tmp_path, monkeypatch, scorer)
    inv, app = open_app(folder)
    inv.note(f"saw {EVIL} in the feed")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert_clean(screen_text(app))
            await pilot.press("c")  # confirm: Locate ranks, its detail quotes change events
            await settle(pilot)
            pane = app.query_one(LocatePane)
            row = [c.node for c in pane.candidates].index("raw_item_genre")  # changed upstream
            pane.query_one("#locate-candidates", DataTable).move_cursor(row=row)
            await pilot.pause()
            text = screen_text(app)
            assert_clean(text)
            assert "\\x1b]0;PWNED\\x07" in text  # the summary's escape, made visible
            assert "[b]bold[/b]" in text  # markup shown as typed, not applied
            await pilot.press("colon", *"on raw_item_genre")  # the genres' distributions
            await palette_found(pilot, "Intervene on raw_item_genre")
            await pilot.press("enter")
            await settle(pilot)
            text = screen_text(app)
            assert_clean(text)
            assert "IAB" in text  # the categories, drawn against the baseline
            await pilot.press("b")  # broken: the counterfactual runs and the scorer refuses
            await settle(pilot)
            assert isinstance(app.screen, ErrorModal)
            assert "HTTP 422" in app.screen.message and "\\x1b]0;PWNED" in app.screen.message
            assert_clean(screen_text(app))
            await pilot.press("escape")
            await pilot.pause()
            assert_clean(screen_text(app))
    finally:
        inv.close()


async def test_a_failed_counterfactual_reads_as_failed_live_and_resumed(
    tmp_path, monkeypatch, scorer
):
    folder = copy_scenario(tmp_path)
    use_http_scorer(tmp_path / folder / "playbook.toml", scorer)
    freeze_trail_clock(monkeypatch)
    monkeypatch.chdir(tmp_path)
    single_threaded_duckdb(monkeypatch)
    inv, app = open_app(folder)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("enter")  # the top candidate (its intervention may say ok)
            await settle(pilot)
            # broken (confirmed if its intervention said ok): the counterfactual runs and the
            # scorer refuses
            await pilot.press("b")
            await settle(pilot)
            if isinstance(app.screen, ConfirmModal):
                await pilot.press("y")
            await settle(pilot)
            assert isinstance(app.screen, ErrorModal)
            await pilot.press("escape")
            await pilot.pause()
            text = screen_text(app)
            assert app.step == "counterfactual"
            assert "▶4 Counter." in text  # current (drawn in red)
            assert "FAILED" in text and "refused the request" in text
            assert "Mark an edge broken" not in text
            await pilot.press("5")  # seen from another step the rail marks it failed
            await pilot.pause()
            assert "!4 Counter." in screen_text(app)
    finally:
        inv.close()

    failed = [e for e in read_entries(tmp_path / "inc") if e.action == "failed"]
    assert [e.step for e in failed] == ["counterfactual"]

    inv, app = open_app(folder)  # resumed: the failure is read back from the trail
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "counterfactual"
            assert "FAILED" in text and "refused the request" in text
            assert re.search(r"4 Counterfactual[ │\n]*failed", text)  # the wide rail, in words
            await pilot.press("5")
            await pilot.pause()
            assert "! 4 Counterfactual" in screen_text(app)
    finally:
        inv.close()
