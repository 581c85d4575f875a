"""S3 URIs and the transfers a SageMaker instance makes: download a prefix (or a host's shard), upload files."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.synth import safe_extract


class JobInputError(ValueError):
    """The request names data that cannot be used; the message is the job's FailureReason."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str, what: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise JobInputError(f"{what} must be an s3:// URI, got {uri!r}")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise JobInputError(f"{what} must name a bucket, got {uri!r}")
        return cls(bucket, key)

    def join(self, *parts: str) -> S3Uri:
        key = self.key.rstrip("/")
        for part in parts:
            key = f"{key}/{part.strip('/')}" if key else part.strip("/")
        return S3Uri(self.bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_keys(s3: Any, prefix: S3Uri) -> list[str]:
    """Every object key under `prefix`, sorted (S3 lists in key order); folder markers skipped."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key):
        keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    return sorted(keys)


def relative_name(prefix: S3Uri, key: str) -> str:
    """The object's path below the prefix's last '/', as SageMaker lays it out in a channel folder."""
    base = prefix.key[: prefix.key.rfind("/") + 1]
    return key[len(base) :]


def download_prefix(s3: Any, prefix: S3Uri, destination: Path, *, shard: tuple[int, int] = (0, 1)) -> list[str]:
    """Download the objects under `prefix` (host `shard[0]` of `shard[1]` gets every n-th: ShardedByS3Key)."""
    rank, hosts = shard
    keys = list_keys(s3, prefix)[rank::hosts]
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    for key in keys:
        target = (destination / relative_name(prefix, key)).resolve()
        if not target.is_relative_to(root) or target == root:
            raise JobInputError(f"object s3://{prefix.bucket}/{key} would land outside its folder ({destination.name})")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(prefix.bucket, key, str(target))
    return keys


def upload_directory(s3: Any, directory: Path, prefix: S3Uri) -> int:
    """Upload every file under `directory` below `prefix` (a checkpoint sync); returns the count."""
    count = 0
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), prefix.bucket, prefix.join(path.relative_to(directory).as_posix()).key)
            count += 1
    return count


def upload_tarball(s3: Any, directory: Path, target: S3Uri, work: Path) -> None:
    """`directory`'s contents as a gzipped tar at `target` (model.tar.gz, output.tar.gz)."""
    archive = work / Path(target.key).name
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    s3.upload_file(str(archive), target.bucket, target.key)


def download_model(s3: Any, model_data_url: str, destination: Path) -> None:
    """Fetch a model.tar.gz and unpack it into `destination` (what SageMaker puts in /opt/ml/model)."""
    uri = S3Uri.parse(model_data_url, "ModelDataUrl")
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination.parent / "model.tar.gz"
    try:
        s3.download_file(uri.bucket, uri.key, str(archive))
    except Exception as error:
        raise JobInputError(f"cannot download the model {model_data_url}: {error}") from None
    with tarfile.open(archive, "r:gz") as tar:
        safe_extract(tar, destination)  # the "data" filter where the Python has it (3.11.4+), the same checks before
    archive.unlink()
