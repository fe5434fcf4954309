"""A real S3-compatible server on 127.0.0.1 for tests: moto in server mode (`moto_server`, from
the `moto[server]` test extra) in a subprocess on a free port.

The server accepts any credentials; the ones in CREDENTIALS are fake and only there so that the
tests can prove no credential reaches an incident folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAH16AFAKEKEYID0042",
    "AWS_SECRET_ACCESS_KEY": "h16a-fake-secret-never-in-the-trail-0042",
    "AWS_REGION": "us-east-1",
    # No instance-metadata lookups for credentials: the tests give them in the environment.
    "AWS_EC2_METADATA_DISABLED": "true",
}
START_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server(*, open_actions: int | None = None) -> Iterator[str]:
    """Run moto's S3 server until the block ends; yields its endpoint URL.

    open_actions: moto then checks credentials after that many requests (moto's
    INITIAL_NO_AUTH_ACTION_COUNT), and the fake ones here are refused with 403: a bucket the
    caller has no permission on.
    """
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    env = dict(os.environ)
    if open_actions is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(open_actions)
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1.0)  # not an S3 call
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def environment(endpoint: str) -> dict[str, str]:
    """The variables a run against the server gets (the usual AWS ones)."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


def objects(endpoint: str, bucket: str) -> dict[str, str]:
    """key -> ETag of every object in the bucket (to prove nothing was written)."""
    listing = _client(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: item["ETag"] for item in listing}


def _client(endpoint: str):  # boto3's client type is generated at run time
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_REGION"],
    )


def upload(
    endpoint: str, bucket: str, files: dict[str, bytes], *, public: tuple[str, ...] = ()
) -> None:
    """Create the bucket (if needed) and put each key's bytes; the `public` keys may be read
    without credentials (a plain https:// URL)."""
    client = _client(endpoint)
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    for key, data in files.items():
        acl = {"ACL": "public-read"} if key in public else {}
        client.put_object(Bucket=bucket, Key=key, Body=data, **acl)
