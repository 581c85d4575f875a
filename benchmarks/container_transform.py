"""Batch transform throughput: a 200 MB CSV through the local SageMaker runner, and the container's share alone.

usage: python benchmarks/container_transform.py MODEL_DIR OUT_JSON [--megabytes 200] [--through-runner]
1. With --through-runner only (no longer a target: the runner's moto-served S3 bounds it): through the runner
   (local_sagemaker behind moto, `python -m local_sagemaker`): CreateTransformJob with MultiRecord batches of at
   most 6 MB, 2 concurrent transforms, SplitType Line; timed from the job's creation to Completed (the runner
   downloads, splits, sends, joins and uploads in Python, on the same cores).
2. The container alone: the same file cut at line boundaries into the same <= 6 MB payloads, posted by two
   client threads (keep-alive) to `entrypoint.py serve` with 2 workers: the container's share of the job.
Rows/s are written to OUT_JSON; container_bench.py compares the container alone with the serving floor.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import wrk_load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_sagemaker.aws import Aws  # noqa: E402 - the project root is not on the path of a script

ENTRYPOINT = ROOT / "container" / "entrypoint.py"
PAYLOAD_BYTES = 6 * 1024 * 1024
CONCURRENCY = 2
FEATURES, SEED = 4, 7
ROLE = "arn:aws:iam::123456789012:role/bench"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algorithm:bench"


def write_csv(path: Path, megabytes: int) -> int:
    """`megabytes` of 4-feature rows in [0, 8) as %.6f: one block of distinct random rows, repeated."""
    values = np.random.default_rng(SEED).uniform(0, 8, size=(30_000, FEATURES))
    block = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in values).encode()
    copies = max(1, megabytes * 1024 * 1024 // len(block))
    with path.open("wb") as handle:
        for _ in range(copies):
            handle.write(block)
    return copies * len(values)


def payloads(data: bytes) -> list[bytes]:
    """The file cut at line boundaries into payloads of at most 6 MB (MultiRecord)."""
    cuts, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + PAYLOAD_BYTES) + 1 if start + PAYLOAD_BYTES < len(data) else len(data)
        cuts.append(data[start:end])
        start = end
    return cuts


def through_runner(model_dir: Path, csv_path: Path, rows: int, work: Path) -> dict[str, Any]:
    port = wrk_load.free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "local_sagemaker", "-p", str(port), "--work-dir", str(work / "runner")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wrk_load.wait_ready(port, "/moto-api/data.json")
        aws = Aws(f"http://127.0.0.1:{port}")
        s3, sagemaker = aws.client("s3"), aws.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        archive = work / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for item in model_dir.iterdir():
                tar.add(item, arcname=item.name)
        s3.upload_file(str(archive), "bench", "model/model.tar.gz")
        s3.upload_file(str(csv_path), "bench", "input/data.csv")
        sagemaker.create_model(
            ModelName="bench",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bench/model/model.tar.gz"},
        )
        started = time.monotonic()
        sagemaker.create_transform_job(
            TransformJobName="bench",
            ModelName="bench",
            MaxConcurrentTransforms=CONCURRENCY,
            MaxPayloadInMB=PAYLOAD_BYTES // (1024 * 1024),
            BatchStrategy="MultiRecord",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/input/"}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={"S3OutputPath": "s3://bench/output/", "AssembleWith": "Line", "Accept": "text/csv"},
            TransformResources={"InstanceType": "ml.c5.large", "InstanceCount": 1},
        )
        while (status := sagemaker.describe_transform_job(TransformJobName="bench"))["TransformJobStatus"] not in {
            "Completed",
            "Failed",
            "Stopped",
        }:
            time.sleep(0.5)
        seconds = time.monotonic() - started
        if status["TransformJobStatus"] != "Completed":
            raise SystemExit(f"transform job {status['TransformJobStatus']}: {status.get('FailureReason')}")
        body = s3.get_object(Bucket="bench", Key="output/data.csv.out")["Body"].read()
        lines = body.count(b"\n")
        if lines != rows:
            raise SystemExit(f"transform output has {lines} lines for {rows} rows")
    finally:
        emulator.terminate()
        emulator.wait(timeout=60)
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds, 1)}


def container_alone(model_dir: Path, csv_path: Path, rows: int, work: Path) -> dict[str, Any]:
    tree = work / "serve"
    (tree / "model").parent.mkdir(parents=True, exist_ok=True)
    if not (tree / "model").exists():
        (tree / "model").symlink_to(model_dir.resolve())
    port = wrk_load.free_port()
    env = {**os.environ, "OPT_ML_DIR": str(tree), "SAGEMAKER_BIND_TO_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, str(ENTRYPOINT), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wrk_load.wait_ready(port, "/ping")
        time.sleep(5)  # the compiled trees are ready within a few seconds of start-up
        batches = payloads(csv_path.read_bytes())
        queue, answered, lock = list(reversed(batches)), [0], threading.Lock()

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            while True:
                with lock:
                    if not queue:
                        return
                    payload = queue.pop()
                connection.request("POST", "/invocations", payload, {"Content-Type": "text/csv"})
                response = connection.getresponse()
                lines = response.read().count(b"\n")
                if response.status != 200:
                    raise SystemExit(f"container answered {response.status}")
                with lock:
                    answered[0] += lines

        threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        if answered[0] != rows:
            raise SystemExit(f"the container answered {answered[0]} lines for {rows} rows")
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds, 1), "requests": len(batches)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--through-runner", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="transform-bench-") as scratch:
        work = Path(scratch)
        csv_path = work / "data.csv"
        rows = write_csv(csv_path, args.megabytes)
        result = {
            "rows": rows,
            "csv_bytes": csv_path.stat().st_size,
            "payload_mb": PAYLOAD_BYTES // (1024 * 1024),
            "concurrency": CONCURRENCY,
            "container_alone": container_alone(args.model_dir, csv_path, rows, work),
        }
        if args.through_runner:
            result["through_local_runner"] = through_runner(args.model_dir, csv_path, rows, work)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
