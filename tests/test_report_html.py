"""report.html and the figures: written beside report.md on a game day played from alert to
report, self-contained (opens offline), and rendered by a real headless chromium with no
console error, every figure visible and no request leaving the page. The screenshot is kept in
the test's temporary folder (its path is printed) as the run's artifact.

Chromium runs with a proxy that is a socket this test listens on: any request the page made
(an image, a font, a script) would connect to it, so no connection proves no request.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from console.engine.investigation import Investigation
from console.engine.report_figures import FIGURES_DIR
from console.engine.report_html import HTML_FILE
from console.gameday.answers import ANSWER_FILE

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"
EDGE = ("raw_card_age_days", "f_card_age")
HOSTILE_NOTE = '<img src="http://127.0.0.1:9/x.png"> <script>console.error("owned")</script>'
CHROMIUM = shutil.which("chromium")
CHROMIUM_OWN = (".google.com", ".googleapis.com", ".gstatic.com")


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    folder = tmp / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    with Investigation.open(folder / "playbook.toml", folder, tmp / "inc") as inv:
        inv.triage()
        inv.locate()
        inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken")
        inv.counterfactual()
        inv.validate()
        inv.note(HOSTILE_NOTE)
        inv.report()
    return tmp / "inc"


def test_the_figures_are_written_beside_the_report(reported):
    names = sorted(p.name for p in (reported / FIGURES_DIR).iterdir())
    assert names == [
        f"{n}.{ext}" for n in ("blast", "distribution", "metric") for ext in ("png", "svg")
    ]
    for png in (reported / FIGURES_DIR).glob("*.png"):
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 100 and image.shape[1] > 300 and image.std() > 0.05, png
    text = (reported / "report.md").read_text(encoding="utf-8")
    assert "[figures/metric.png](figures/metric.png)" in text and "Not drawn" not in text
    page = (reported / HTML_FILE).read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "<script" not in page and "<img" not in page
    assert "&lt;script&gt;console.error" in page  # the note is shown, as text


class Sink:
    """A proxy that answers nothing: it records the host of every request sent through it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.hosts: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.socket.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                data = conn.recv(1000)
            except OSError:
                data = b"? unreadable"
            conn.close()
            if not data:
                # Closed before a byte was sent: chromium connects to an HTTP proxy ahead of an
                # http:// request and may close that socket unused as it exits (one CI run saw
                # it). No request went through it.
                continue
            line = data.split(b"\r\n")[0].decode("latin-1")
            # "GET http://host/path HTTP/1.1" or "CONNECT host:443 HTTP/1.1"
            target = line.split(" ")[1] if " " in line else line
            host = target.split("://")[-1].split("/")[0].split(":")[0]
            self.hosts.append(host or line)  # a line with no host is kept whole, to be read

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


def _chromium(page: Path, folder: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Chromium's run on the page (a screenshot at folder/screenshot.png) and the hosts it
    asked the proxy for."""
    assert CHROMIUM is not None, "Debian's chromium is needed: apt-get install -y chromium"
    sink = Sink()
    try:
        run = subprocess.run(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={folder / 'profile'}",
                f"--proxy-server=127.0.0.1:{sink.port}", "--proxy-bypass-list=<-loopback>",
                "--enable-logging=stderr", "--v=0", "--window-size=1200,9000",
                f"--screenshot={folder / 'screenshot.png'}", page.as_uri(),
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        sink.close()
    return run, sink.hosts


def test_chromium_renders_every_figure_with_no_error_and_no_request(reported, tmp_path):
    # The control: a page that fetches an image is seen by the proxy. Chromium also asks, on
    # its own and more or less each run, for Google's services (its clock, accounts): those
    # hosts are told apart; any other request would come from the page.
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://figures.invalid/x.png"></body></html>')
    (tmp_path / "control").mkdir()
    _, own = _chromium(control, tmp_path / "control")
    assert "figures.invalid" in own
    (tmp_path / "report").mkdir()
    run, hosts = _chromium(reported / HTML_FILE, tmp_path / "report")
    shot = tmp_path / "report" / "screenshot.png"
    print(f"report screenshot: {shot}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert [h for h in hosts if not h.endswith(CHROMIUM_OWN)] == []
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Refused" in line]
    assert console == []
    pixels = matplotlib.image.imread(shot)[:, :, :3]
    # Each figure draws in its own colour: the metric's line, the blast radius's red bars, and
    # the distribution's default blue and orange bars.
    for rgb in ((0x1F, 0x4E, 0x79), (0xC6, 0x28, 0x28), (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)):
        near = np.abs(pixels - np.array(rgb) / 255).max(axis=2) < 0.04
        assert near.sum() > 50, rgb


def test_a_hostile_segment_is_labelled_with_its_escapes_not_with_missing_glyphs(tmp_path):
    """A figure's label from data shows a control character as report.md does (`\\x1b`):
    matplotlib has no glyph for it and would draw an empty box (and warn)."""
    import warnings
    from types import SimpleNamespace

    from console.engine import report_figures
    from console.engine.results import SegmentImpact

    hostile = "\x1b]0;owned\x07\x9b31m"
    blast = SimpleNamespace(
        flipped=3, total=10, segments=[SegmentImpact(f"seg_{hostile}", hostile, 3, 10)]
    )
    shown = report_figures.as_label(lambda value, edge: str(value))
    fig = report_figures._blast(SimpleNamespace(blast_radius=blast), shown)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["seg_\\x1b]0;owned\\x07\\x9b31m = \\x1b]0;owned\\x07\\x9b31m"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a UserWarning
        report_figures._save(fig, tmp_path / "blast")
    assert (tmp_path / "blast.png").stat().st_size > 0


def test_time_buckets_are_labelled_by_month_day_and_time_in_utc():
    # Forty full timestamps, year and offset included, rotated under the bars were unreadable.
    from datetime import UTC, datetime, timedelta, timezone

    from console.engine.report_figures import _time_labels

    paris = timezone(timedelta(hours=1))
    rows = [
        {"bucket": datetime(2026, 11, 5, 13, 0, tzinfo=paris)},
        {"bucket": datetime(2026, 11, 5, 13, 0)},  # no zone: UTC, never the machine's own
        {"bucket": None},
    ]
    buckets = [str(r["bucket"]) for r in rows]
    assert _time_labels(rows, buckets) == ["11-05 12:00", "11-05 13:00", "None"]
    rows.append({"bucket": datetime(2026, 11, 5, 13, 0, 30, tzinfo=UTC)})
    assert _time_labels(rows, [str(rows[-1]["bucket"])]) == ["11-05 13:00:30"]
