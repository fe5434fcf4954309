"""Export a trail for a post-mortem: JSON Lines, Parquet, CSV or a Markdown timeline.

    export(incident_dir, fmt, out, tz=None, sensitive=()) -> ExportResult

The trail is verified first; a trail that fails verification (other than a torn last line,
which is left out and noted) is not exported. Every export carries the head (count, hash,
signature) and the verification status. Values under a sensitive key, at any depth of params
and result, are replaced by "salted-sha256:<hex>" = sha256(salt + canonical(value)), with
the salt kept per incident in <incident_dir>/export.salt (created once), so equal values stay
equal within an incident without being revealed. Times are UTC unless tz names a zone (CSV and
Markdown show them in that zone; JSON Lines and Parquet keep UTC). Files are written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.audit.entry import Entry, canonical
from console.audit.head import HEAD_FILE, Head, read_head
from console.audit.lock import LOCK_FILE
from console.audit.trail import read_entries
from console.audit.verification import TRAIL_FILE, VerifyReport, check
from console.errors import ConsoleError
from console.files import atomic_path, create_once

FORMATS = ("jsonl", "parquet", "csv", "md")
SALT_FILE = "export.salt"
SUMMARY_WIDTH = 120
PARQUET_BATCH = 65_536


@dataclass(frozen=True)
class ExportResult:
    path: Path
    count: int
    head: Head
    report: VerifyReport


def export(
    incident_dir: str | Path,
    fmt: str,
    out: str | Path,
    tz: str | None = None,
    sensitive: Iterable[str] = (),
    key: bytes | None = None,
) -> ExportResult:
    """Write the trail of incident_dir to out in fmt (jsonl, parquet, csv, md).

    key: the HMAC key; when given, head.json's signature is checked before exporting.
    """
    folder = Path(incident_dir)
    if fmt not in FORMATS:
        raise ConsoleError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    zone = zone_for(tz)
    reserved = {(folder / name).resolve() for name in (TRAIL_FILE, HEAD_FILE, LOCK_FILE, SALT_FILE)}
    if Path(out).resolve() in reserved:
        raise ConsoleError(f"refusing to export over {out}: it is one of the trail's own files")
    report, scan = check(folder, key=key)
    if not report.ok and not (scan.torn and report.problem == scan.problem):
        raise ConsoleError(
            f"the trail of {folder} fails verification, nothing exported: {report.describe()}"
        )
    stored = read_head(folder)
    signature = stored.signature if stored and stored.count == report.count else None
    head = Head(report.count, report.head, signature, stored.updated_at if stored else "")
    keys = frozenset(sensitive)
    redact = Redactor(folder, keys) if keys else None
    meta = {
        "incident": str(folder),
        "count": head.count,
        "head": head.hash,
        "signature": head.signature,
        "verification": _status(report, key is not None),
        "timezone": tz or "UTC",
        "sensitive": sorted(keys),
    }
    limit = scan.good_bytes

    def entries() -> Iterator[Entry]:
        for entry in read_entries(folder, limit_bytes=limit):
            yield redact.entry(entry) if redact else entry

    writer = {"jsonl": _jsonl, "parquet": _parquet, "csv": _csv, "md": _markdown}[fmt]
    with atomic_path(out) as tmp:
        writer(tmp, entries(), meta, zone)
    return ExportResult(Path(out), head.count, head, report)


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


class Redactor:
    """Replaces values under sensitive keys with salted hashes (salt per incident)."""

    def __init__(self, folder: Path, keys: frozenset[str]) -> None:
        self.keys = keys
        self.salt = incident_salt(folder)

    def value(self, value: Any) -> str:
        return "salted-sha256:" + hashlib.sha256(self.salt + canonical(value)).hexdigest()

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v) if k in self.keys else self.walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        return value

    def entry(self, entry: Entry) -> Entry:
        return replace(entry, params=self.walk(entry.params), result=self.walk(entry.result))


def incident_salt(folder: Path) -> bytes:
    """The incident's export salt: 32 random bytes, hex in export.salt, created once."""
    path = folder / SALT_FILE
    create_once(path, secrets.token_hex(32).encode() + b"\n")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise ConsoleError(f"{path} is not a readable export salt (64 hex digits): {exc}") from exc


def summary(entry: Entry) -> str:
    """One line saying what the entry did, for timelines."""
    p, r = entry.params, entry.result
    if entry.action == "note":
        text = str(p.get("text", ""))
    elif entry.action == "correct":
        changes = _pairs(p.get("changes") or {})
        text = f"corrects #{p.get('corrects')}: {p.get('text', '')}"
        text += f" ({changes})" if changes else ""
    elif entry.step == "session" and entry.action == "recovered":
        text = (
            f"recovered after a crash: {r.get('torn_bytes')} torn bytes moved to "
            f"{r.get('side_file')}"
        )
    else:
        text = _pairs(r) or _pairs(p)
    text = " ".join(text.split())
    if len(text) > SUMMARY_WIDTH:
        text = text[: SUMMARY_WIDTH - 1] + "…"
    return text


def _pairs(d: dict[str, Any]) -> str:
    parts = []
    for key, value in d.items():
        if isinstance(value, (dict, list)):
            continue
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def local_ts(entry: Entry, zone: tzinfo | None, fmt: str | None = None) -> str:
    if zone is None:
        return entry.ts if fmt is None else entry.time.strftime(fmt)
    moment: datetime = entry.time.astimezone(zone)
    return moment.isoformat(timespec="microseconds") if fmt is None else moment.strftime(fmt)


def _jsonl(path: Path, entries: Iterator[Entry], meta: dict, zone: tzinfo | None) -> None:
    # Entries keep their stored UTC ts (and hashes); the first line is the export header.
    with open(path, "wb") as f:
        f.write(canonical({"trail_export": meta}) + b"\n")
        for entry in entries:
            f.write(canonical(entry.to_dict()) + b"\n")


def _parquet(path: Path, entries: Iterator[Entry], meta: dict, zone: tzinfo | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("actor", pa.string()),
            ("session", pa.string()),
            ("step", pa.string()),
            ("action", pa.string()),
            ("summary", pa.string()),
            ("params", pa.string()),
            ("result", pa.string()),
            ("evidence", pa.string()),
            ("prev", pa.string()),
            ("hash", pa.string()),
        ],
        metadata={"incident_console.trail_export": json.dumps(meta)},
    )
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(entries, PARQUET_BATCH):
            columns = {
                "seq": [e.seq for e in batch],
                "ts": [e.time for e in batch],
                "actor": [e.actor for e in batch],
                "session": [e.session for e in batch],
                "step": [e.step for e in batch],
                "action": [e.action for e in batch],
                "summary": [summary(e) for e in batch],
                "params": [_json(e.params) for e in batch],
                "result": [_json(e.result) for e in batch],
                "evidence": [_json([ev.to_dict() for ev in e.evidence]) for e in batch],
                "prev": [e.prev for e in batch],
                "hash": [e.hash for e in batch],
            }
            writer.write_table(pa.table(columns, schema=schema))


def _batches(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _json(value: Any) -> str:
    return canonical(value).decode("utf-8")


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


def _csv(path: Path, entries: Iterator[Entry], meta: dict, zone: tzinfo | None) -> None:
    # The first line is a comment carrying the head; skip it with skip_rows=1 / header=1.
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write("# incident-console trail export " + json.dumps(meta, ensure_ascii=False) + "\n")
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        for e in entries:
            out.writerow(
                [
                    e.seq,
                    local_ts(e, zone),
                    e.actor,
                    e.session,
                    e.step,
                    e.action,
                    summary(e),
                    _json(e.params),
                    _json(e.result),
                    _json([ev.to_dict() for ev in e.evidence]),
                    e.prev,
                    e.hash,
                ]
            )


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _markdown(path: Path, entries: Iterator[Entry], meta: dict, zone: tzinfo | None) -> None:
    zone_name = meta["timezone"]
    buf = io.StringIO()
    buf.write(f"# Audit trail: {Path(meta['incident']).name}\n\n")
    buf.write(f"- Incident folder: `{meta['incident']}`\n")
    buf.write(f"- Entries: {meta['count']}\n")
    buf.write(f"- Head hash: `{meta['head']}`\n")
    signature = f"`{meta['signature']}`" if meta["signature"] else "unsigned"
    buf.write(f"- Head signature (HMAC-SHA256): {signature}\n")
    buf.write(f"- Verification: {meta['verification']}\n")
    buf.write(f"- Times: {zone_name}\n")
    if meta["sensitive"]:
        buf.write(f"- Sensitive keys shown as salted hashes: {', '.join(meta['sensitive'])}\n")
    buf.write(f"\n| # | Time ({zone_name}) | Actor | Step | Action | Summary |\n")
    buf.write("|---:|---|---|---|---|---|\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(buf.getvalue())
        for e in entries:
            cells = [
                str(e.seq),
                local_ts(e, zone, "%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.step,
                e.action,
                summary(e),
            ]
            f.write("| " + " | ".join(_md_cell(c) for c in cells) + " |\n")
