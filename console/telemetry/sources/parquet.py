"""Parquet sources: a local path, or s3:// gs:// https:// (a single file, a prefix, or a
hive-partitioned dataset), read through pyarrow's filesystems as a pyarrow Dataset that DuckDB
scans with filter and projection pushdown (docs/telemetry.md, "Sources").

Why pyarrow and not DuckDB's httpfs: that extension is downloaded at run time, which fails on
an offline machine and would need external access switched on in the store's connection;
pyarrow's S3 and GCS filesystems ship inside the wheel. Credentials come from each cloud's
usual environment and config files (AWS_ACCESS_KEY_ID / ~/.aws, GOOGLE_APPLICATION_CREDENTIALS
/ gcloud), never from the playbook; AWS_ENDPOINT_URL(_S3) points at an S3-compatible server.
pyarrow has no HTTP filesystem, so an https:// source is one Parquet file fetched with httpx
(already a dependency) into memory.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from console.errors import ConsoleError

REMOTE_SCHEMES: tuple[str, ...] = ("s3", "gs", "https", "http")
KEYS: tuple[str, ...] = ("source",)
CONNECT_SECONDS = 5.0
REQUEST_SECONDS = 60.0
# One retry: an unreachable endpoint must fail in seconds at 3 a.m., not after minutes.
S3_ATTEMPTS = 2


@dataclass(frozen=True)
class ParquetSpec:
    key: str  # "telemetry.decisions", for messages
    url: str  # as read (a local path is absolute)
    shown: str  # the URL without user info or query string: for messages and the trail


def scheme_of(source: str) -> str:
    return source.split("://", 1)[0].lower() if "://" in source else ""


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_parquet(table: Mapping[str, Any], where: str) -> ParquetSpec:
    problems = [
        f"{where}.{key}: unknown key for a Parquet source" for key in table if key not in KEYS
    ]
    url = str(table.get("source", ""))
    parts = urlsplit(url) if scheme_of(url) else None
    if parts is not None and (parts.username or parts.password):
        problems.append(
            f"{where}.source: credentials do not belong in the playbook; use the environment "
            "or the cloud's config files"
        )
    if parts is not None and scheme_of(url) in ("s3", "gs") and not parts.netloc:
        problems.append(f"{where}.source = {shown_url(url)!r}: names no bucket")
    if problems:
        raise ConsoleError(f"{where}: not a valid Parquet source", problems=problems)
    return ParquetSpec(where, url, shown_url(url))


def read_parquet(spec: ParquetSpec, start: datetime, end: datetime) -> pa.Table | ds.Dataset:
    """The source's rows, lazily where the filesystem allows. start/end are not needed: DuckDB
    pushes each query's own `ts` filter into the Dataset's scan."""
    scheme = scheme_of(spec.url)
    try:
        if scheme in ("http", "https"):
            return _fetch(spec)
        filesystem, path = _filesystem(spec, scheme)
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise ConsoleError(f"{spec.key}.source = {spec.shown!r}: no such file or prefix")
        dataset = ds.dataset(path, filesystem=filesystem, format="parquet", partitioning="hive")
    except (OSError, pa.ArrowException) as exc:
        raise ConsoleError(
            f"{spec.key}.source = {spec.shown!r}: cannot read ({_first(exc)})"
        ) from None
    if isinstance(dataset, ds.FileSystemDataset) and not dataset.files:
        raise ConsoleError(f"{spec.key}.source = {spec.shown!r}: holds no Parquet files")
    return dataset


def _filesystem(spec: ParquetSpec, scheme: str) -> tuple[pafs.FileSystem, str]:
    if not scheme:
        return pafs.LocalFileSystem(), spec.url
    parts = urlsplit(spec.url)
    path = (parts.netloc + parts.path).rstrip("/")
    if scheme == "s3":
        return _s3(), path
    return pafs.GcsFileSystem(), path


def _s3() -> pafs.S3FileSystem:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {}
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parts.netloc
        options["scheme"] = parts.scheme
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return pafs.S3FileSystem(
        connect_timeout=CONNECT_SECONDS,
        request_timeout=REQUEST_SECONDS,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=S3_ATTEMPTS),
        **options,
    )


def _fetch(spec: ParquetSpec) -> pa.Table:
    try:
        response = httpx.get(
            spec.url,
            timeout=httpx.Timeout(REQUEST_SECONDS, connect=CONNECT_SECONDS),
            follow_redirects=True,
        )
    except httpx.HTTPError as exc:
        raise ConsoleError(
            f"{spec.key}.source = {spec.shown!r}: cannot fetch ({_first(exc)})"
        ) from None
    if response.status_code != 200:
        raise ConsoleError(
            f"{spec.key}.source = {spec.shown!r}: HTTP {response.status_code} {response.reason_phrase}"
        )
    return pq.read_table(io.BytesIO(response.content))


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
