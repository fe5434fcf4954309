"""Export a trail for a post-mortem: JSON Lines, Parquet, CSV or a Markdown timeline.

    export(incident_dir, fmt, out, tz=None, sensitive=()) -> ExportResult

The formats are one table, FORMATS (name -> ExportFormat: its writer and whether its header
goes in a `<out>.meta.json` beside it); the CLI's `--format` choices and the UI's export-all
read it, so a new format is a writer function and a row here (plus its docs and a test).
Each row's summary column is console.audit.vocabulary.summary, the one summariser.

The trail is verified first; a trail that fails verification (other than a torn last line,
which is left out and noted) is not exported. Every export carries the head (count, hash,
signature) and the verification status: in the file (JSON Lines header line, Parquet schema
metadata, Markdown front matter) or, for CSV, in `<out>.meta.json` beside it (a CSV file is
a header row and rows, nothing else). Times are UTC unless tz names a zone (CSV and Markdown
show them in that zone; JSON Lines and Parquet keep UTC). Files are written atomically.

Sensitive columns are those recorded in the trail's ("session", "open") entries plus the
`sensitive` argument; whatever derives from them is replaced by salted hashes (Redactor; the
rule is written out in docs/trail.md). Text is escaped for the format it lands in
(console/text.py): Markdown cells cannot start a heading, link or HTML tag, no CSV cell is a
spreadsheet formula; JSON Lines and Parquet are data and keep every value exactly.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.audit.entry import ACTION_MEMBER, canonical
from console.audit.head import HEAD_FILE, Head, read_head
from console.audit.lock import LOCK_FILE
from console.audit.verification import TRAIL_FILE, VerifyReport, check
from console.audit.vocabulary import Action, Step, summary
from console.errors import ConsoleError
from console.files import atomic_path, atomic_write, create_once
from console.text import csv_cell, md_cell, md_code, md_text

SALT_FILE = "export.salt"
META_SUFFIX = ".meta.json"  # the CSV export's header lives in <out>.meta.json
PARQUET_BATCH = 65_536
HASH_PREFIX = "salted-sha256:"

# One encoder for every JSON text column: json.dumps would build a new one per call.
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    count: int
    head: Head
    report: VerifyReport
    sensitive: tuple[str, ...] = ()  # the columns redacted
    meta: Path | None = None  # the CSV export's <out>.meta.json


def export(
    incident_dir: str | Path,
    fmt: str,
    out: str | Path,
    tz: str | None = None,
    sensitive: Iterable[str] = (),
    key: bytes | None = None,
) -> ExportResult:
    """Write the trail of incident_dir to out in fmt (jsonl, parquet, csv, md).

    sensitive: columns to redact besides those the trail recorded when the incident opened.
    key: the HMAC key; when given, head.json's signature is checked before exporting.
    """
    folder = Path(incident_dir)
    if fmt not in FORMATS:
        raise ConsoleError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    form = FORMATS[fmt]
    zone = zone_for(tz)
    reserved = {(folder / name).resolve() for name in (TRAIL_FILE, HEAD_FILE, LOCK_FILE, SALT_FILE)}
    targets = [Path(out)] + ([meta_path(out)] if form.meta_beside else [])
    for target in targets:
        if target.resolve() in reserved:
            raise ConsoleError(
                f"refusing to export over {target}: it is one of the trail's own files"
            )
    report, scan = check(folder, key=key)
    if not report.ok and not (scan.torn and report.problem == scan.problem):
        raise ConsoleError(
            f"the trail of {folder} fails verification, nothing exported: {report.describe()}"
        )
    stored = read_head(folder)
    signature = stored.signature if stored and stored.count == report.count else None
    head = Head(report.count, report.head, signature, stored.updated_at if stored else "")
    limit = scan.bytes_at(report.count)  # an entry beyond head.json is not exported
    columns = recorded_sensitive(folder, limit) | frozenset(sensitive)
    redact = Redactor.for_trail(folder, columns, limit) if columns else None
    meta: dict[str, Any] = {
        "incident": str(folder),
        "count": head.count,
        "head": head.hash,
        "signature": head.signature,
        "verification": _status(report, key is not None),
        "timezone": tz or "UTC",
        "sensitive": sorted(columns),
    }

    def entries() -> Iterator[dict[str, Any]]:
        for record in read_records(folder, limit):
            yield redact.record(record) if redact else record

    if form.meta_beside:
        atomic_write(meta_path(out), json.dumps({"trail_export": meta}, indent=2) + "\n")
    with atomic_path(out) as tmp:
        form.write(tmp, entries(), meta, zone)
    return ExportResult(
        Path(out),
        head.count,
        head,
        report,
        tuple(meta["sensitive"]),
        meta_path(out) if form.meta_beside else None,
    )


def meta_path(out: str | Path) -> Path:
    """Where the CSV export's header goes: beside the CSV, `<out>.meta.json`."""
    out = Path(out)
    return out.with_name(out.name + META_SUFFIX)


def _status(report: VerifyReport, signature_checked: bool) -> str:
    if not report.ok:
        return f"verified except: {report.problem}"
    return "verified, signature checked" if signature_checked else "verified"


def zone_for(tz: str | None) -> tzinfo | None:
    if not tz or tz.upper() == "UTC":
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConsoleError(
            f"unknown time zone {tz!r}: use an IANA zone name such as Europe/Paris or UTC"
        ) from None


def read_lines(folder: Path, limit: int | None = None) -> Iterator[bytes]:
    """The trail's complete lines, up to limit bytes (the verified prefix)."""
    with open(folder / TRAIL_FILE, "rb", buffering=1 << 20) as f:
        read = 0
        for line in f:
            read += len(line)
            if not line.endswith(b"\n") or (limit is not None and read > limit):
                return
            yield line


def read_records(folder: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The stored entries as plain dicts. Exports do not build Entry objects: a 1M-entry
    trail would spend most of its time constructing them."""
    return map(json.loads, read_lines(folder, limit))


def action_of(line: bytes) -> str | None:
    """The action of a canonical line, read from its bytes ("action" sorts first); None when
    the line is not laid out so (parse it)."""
    if not line.startswith(ACTION_MEMBER):
        return None
    end = line.find(b'"', len(ACTION_MEMBER))
    return line[len(ACTION_MEMBER) : end].decode("utf-8") if end > 0 else None


# -- redaction ---------------------------------------------------------------------------------

# Members that name things the playbook defines or the engine decided, never data: kept when
# the dict around them is about a sensitive column.
NAME_KEYS = frozenset(
    {"edge", "node", "column", "feature", "metric", "type", "verdict", "mark",
     "intervention_verdict", "path", "sha256"}
)  # fmt: skip
# A dict is about a column when one of these members names it (or its "edge" touches it).
SUBJECT_KEYS = ("node", "column", "feature")
# Members whose strings are a column's own values (categories, labels, bin edges).
VALUE_KEYS = frozenset(
    {"category", "top_category", "new_categories", "vanished_categories", "edges", "value",
     "values", "old_value", "new_value"}
)  # fmt: skip
# The engine's own labels in those members; they are words, not a column's values.
ENGINE_LABELS = frozenset({"(other)", "missing", "present"})
_OPEN_MEMBERS = (
    f'"action":"{Action.OPEN}"'.encode(),
    f'"step":"{Step.SESSION}"'.encode(),
    b'"sensitive":',
)


def recorded_sensitive(folder: Path, limit: int | None = None) -> frozenset[str]:
    """The sensitive columns every ("session", "open") entry of the trail recorded."""
    found: set[str] = set()
    for line in read_lines(folder, limit):
        if all(member in line for member in _OPEN_MEMBERS):
            record = json.loads(line)
            if (record.get("step"), record.get("action")) == (Step.SESSION, Action.OPEN):
                found.update(str(c) for c in record["params"].get("sensitive") or ())
    return frozenset(found)


class Redactor:
    """Replaces whatever derives from a sensitive column with a salted hash (salt per
    incident), so equal values stay equal within an incident without being revealed:

    1. a value under a member named after a sensitive column (at any depth), whole;
    2. every value of an entry, or of a dict inside one, that is about a sensitive column (its
       node / column / feature member names it, or its edge touches it), leaf by leaf, except
       the members in NAME_KEYS;
    3. anywhere else, a sensitive column's value that rules 1 and 2 saw as a category, label
       or bin edge (VALUE_KEYS), where it appears in a string or a member name as a whole word
       (numbers excepted: they cannot be told from counts).
    """

    def __init__(self, salt: bytes, columns: frozenset[str], values: Iterable[str] = ()) -> None:
        self.columns = columns
        self.salt = salt
        words = sorted({v for v in values if _scannable(v)}, key=len, reverse=True)
        self._scan = (
            re.compile(
                r"(?<![0-9A-Za-z_])(?:" + "|".join(map(re.escape, words)) + r")(?![0-9A-Za-z_])"
            )
            if words
            else None
        )

    @classmethod
    def for_trail(cls, folder: Path, columns: frozenset[str], limit: int | None) -> Redactor:
        """A redactor for the trail of folder: a first pass collects the sensitive values the
        entries mentioning a sensitive column hold (only those lines are parsed)."""
        salt = incident_salt(folder)
        collector = cls(salt, columns)
        names = [c.encode("utf-8") for c in columns]
        values: set[str] = set()
        for line in read_lines(folder, limit):
            if any(name in line for name in names):
                record = json.loads(line)
                collector.collect(record.get("params"), values)
                collector.collect(record.get("result"), values)
        return cls(salt, columns, values)

    def hash(self, value: Any) -> str:
        return HASH_PREFIX + hashlib.sha256(self.salt + canonical(value)).hexdigest()

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        params, result = record["params"], record["result"]
        about = self.about(params) or self.about(result)
        return {
            **record,
            "params": self.walk(params, about),
            "result": self.walk(result, about),
        }

    def about(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        if any(value.get(k) in self.columns for k in SUBJECT_KEYS if isinstance(value.get(k), str)):
            return True
        edge = value.get("edge")
        return isinstance(edge, list) and any(
            isinstance(n, str) and n in self.columns for n in edge
        )

    def walk(self, value: Any, about: bool = False) -> Any:
        if isinstance(value, dict):
            about = about or self.about(value)
            out = {}
            for k, v in value.items():
                if k in self.columns:
                    out[self.text(k)] = self.hash(v)
                elif about and k in NAME_KEYS:
                    out[k] = v
                else:
                    out[self.text(k)] = self.walk(v, about)
            return out
        if isinstance(value, list):
            return [self.walk(v, about) for v in value]
        if about:
            return self.hash(value)
        return self.text(value) if isinstance(value, str) else value

    def text(self, text: str) -> str:
        """text with every sensitive value seen as a whole word replaced by its hash."""
        if self._scan is None:
            return text
        return self._scan.sub(lambda m: self.hash(m.group(0)), text)

    def collect(self, value: Any, into: set[str], about: bool = False, held: bool = False) -> None:
        """Add to into the strings walk() hashes that are a column's values (rule 3's words):
        held is True under a sensitive column's member or a VALUE_KEYS member of a dict
        about a sensitive column."""
        if isinstance(value, dict):
            about = about or self.about(value)
            for k, v in value.items():
                if k in self.columns and isinstance(v, dict):
                    self.collect(v, into, True, held)  # statistics of the column, by name
                elif not (about and k in NAME_KEYS):
                    inner = held or k in self.columns or (about and k in VALUE_KEYS)
                    self.collect(v, into, about, inner)
        elif isinstance(value, list):
            for v in value:
                self.collect(v, into, about, held)
        elif held and isinstance(value, str):
            into.add(value)


def _scannable(value: str) -> bool:
    if not value.strip() or value in ENGINE_LABELS or len(value) > 200:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def incident_salt(folder: Path) -> bytes:
    """The incident's export salt: 32 random bytes, hex in export.salt, created once."""
    path = folder / SALT_FILE
    create_once(path, secrets.token_hex(32).encode() + b"\n")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise ConsoleError(f"{path} is not a readable export salt (64 hex digits): {exc}") from exc


def local_ts(ts: str, zone: tzinfo | None, fmt: str | None = None) -> str:
    """A stored UTC ts in zone (None: UTC as stored), ISO 8601 or strftime(fmt)."""
    if zone is None and fmt is None:
        return ts
    moment = datetime.fromisoformat(ts)
    if zone is not None:
        moment = moment.astimezone(zone)
    if fmt is None:
        return moment.isoformat(timespec="microseconds")
    return moment.strftime(fmt)


# -- writers -----------------------------------------------------------------------------------


def _jsonl(
    path: Path, entries: Iterator[dict[str, Any]], meta: dict[str, Any], zone: tzinfo | None
) -> None:
    # Entries keep their stored UTC ts (and hashes); the first line is the export header.
    with open(path, "wb") as f:
        f.write(canonical({"trail_export": meta}) + b"\n")
        for entry in entries:
            f.write(canonical(entry) + b"\n")


def _parquet(
    path: Path, entries: Iterator[dict[str, Any]], meta: dict[str, Any], zone: tzinfo | None
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.string()
    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("ts", pa.timestamp("us", tz="UTC")),
            *[(name, text) for name in CSV_COLUMNS[2:]],
        ],
        metadata={"incident_console.trail_export": json.dumps(meta)},
    )
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(entries, PARQUET_BATCH):
            columns: dict[str, Any] = {name: [] for name in CSV_COLUMNS}
            for e in batch:
                for name, value in zip(CSV_COLUMNS, _row(e, e["ts"]), strict=True):
                    columns[name].append(value)
            # Arrow parses the ISO 8601 times in one call (strptime per entry is most of the cost).
            columns["ts"] = pa.array(columns["ts"], text).cast(pa.timestamp("us", tz="UTC"))
            writer.write_table(pa.table(columns, schema=schema))


def _batches(entries: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


CSV_COLUMNS = (
    "seq",
    "ts",
    "actor",
    "session",
    "step",
    "action",
    "summary",
    "params",
    "result",
    "evidence",
    "prev",
    "hash",
)


def _row(e: dict[str, Any], ts: str) -> list[Any]:
    return [
        e["seq"],
        ts,
        e["actor"],
        e["session"],
        e["step"],
        e["action"],
        summary(e),
        _JSON.encode(e["params"]),
        _JSON.encode(e["result"]),
        _JSON.encode(e["evidence"]),
        e["prev"],
        e["hash"],
    ]


def _csv(
    path: Path, entries: Iterator[dict[str, Any]], meta: dict[str, Any], zone: tzinfo | None
) -> None:
    # A header row and the rows, nothing else; the export's header is in <out>.meta.json.
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        for e in entries:
            out.writerow([csv_cell(v) for v in _row(e, local_ts(e["ts"], zone))])


def _markdown(
    path: Path, entries: Iterator[dict[str, Any]], meta: dict[str, Any], zone: tzinfo | None
) -> None:
    zone_name = md_text(meta["timezone"])
    signature = md_code(meta["signature"]) if meta["signature"] else "unsigned"
    lines = [
        f"# Audit trail: {md_text(Path(meta['incident']).name)}",
        "",
        f"- Incident folder: {md_code(meta['incident'])}",
        f"- Entries: {meta['count']}",
        f"- Head hash: {md_code(meta['head'])}",
        f"- Head signature (HMAC-SHA256): {signature}",
        f"- Verification: {md_text(meta['verification'])}",
        f"- Times: {zone_name}",
    ]
    if meta["sensitive"]:
        shown = ", ".join(md_code(c) for c in meta["sensitive"])
        lines.append(f"- Sensitive columns shown as salted hashes: {shown}")
    lines += [
        "",
        f"| # | Time ({zone_name}) | Actor | Step | Action | Summary |",
        "|---:|---|---|---|---|---|",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        for e in entries:
            cells = [
                str(e["seq"]),
                local_ts(e["ts"], zone, "%Y-%m-%d %H:%M:%S"),  # digits, '-' and ':' only
                md_cell(e["actor"]),
                md_cell(e["step"]),
                md_cell(e["action"]),
                md_cell(summary(e)),
            ]
            f.write("| " + " | ".join(cells) + " |\n")


# -- the formats -------------------------------------------------------------------------------

Writer = Callable[[Path, Iterator[dict[str, Any]], dict[str, Any], tzinfo | None], None]


@dataclass(frozen=True)
class ExportFormat:
    """How one export format is written: write(path, entries, meta, zone) fills the
    (temporary) file; with meta_beside the export's header goes to `<out>.meta.json`."""

    write: Writer
    meta_beside: bool = False


FORMATS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat(_jsonl),
    "parquet": ExportFormat(_parquet),
    "csv": ExportFormat(_csv, meta_beside=True),
    "md": ExportFormat(_markdown),
}
