"""`make demo`: the whole system on this machine, no AWS account: train, score, promote, serve.

    python -m scripts.demo [--keep-running] [--algorithm <folder>] [--hosting async]
    # make demo [ALGORITHM=<folder>] [HOSTING=async]

With --hosting async, dev's endpoint is asynchronous (README "Asynchronous inference"): the demo writes that
configuration to cdk.out/demo/environments.toml, and smoke and invoke go through S3 and InvokeEndpointAsync.
With --algorithm another of container/'s algorithms than the Dockerfile's, the demo runs in a scratch copy of
the repository with that one setting changed (scripts/demo_swap.py).

1. synthesize the app (as `cdk synth` does) into cdk.out/demo/
2. start the local SageMaker (moto + local_sagemaker) and deploy Dev's stacks into it
3. upload a small sample dataset (synthetic, binary labels) to Dev's data bucket
4. run the training pipeline (`sagemaker_ops train`): Train → Register → CreateModel → Score, with progress
5. approve the version the pipeline registered (`sagemaker_ops approve`; before that, `promote` refuses it)
6. promote it: `sagemaker_ops promote --package` prints the pin, the demo re-synthesizes with it and
   updates the Inference stack, as a real promotion would
7. bring up the endpoint, invoke it (`sagemaker_ops smoke`, `invoke`) and show what it serves (`status`)
8. print where each output lives (copies are kept in cdk.out/demo/outputs/), then stop everything
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from config import AppConfig, parse_config
from config.algorithm import load_algorithm
from config.contract import environment_prefix, serving_log_group_name
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from local_sagemaker.deploy import DeployedStack, bootstrap, deploy, stack_artifacts
from local_sagemaker.server import ACCOUNT, MotoServer, start_moto_server
from sagemaker_ops.cli import main as ops
from scripts.demo_swap import chosen, fit_to_algorithm, run_in_copy, to_toml
from stacks import build_app

ROOT = Path(__file__).resolve().parent.parent
SUCCESS = 0  # the exit code of every successful command
WORK = ROOT / "cdk.out" / "demo"
ENVIRONMENT, STAGE = "dev", "Dev"
DATA_PREFIX = "demo"
PIPELINE_TIMEOUT_SECONDS = 600
# The demo's configuration: environments.toml, with dev's hosting switched as --hosting says; the CLI reads it too.
CONFIG_FILE = WORK / "environments.toml"


def _example_hyperparameters() -> list[str]:
    """The algorithm's declared example set (trains in seconds) over Dev's configuration: a demo, not a benchmark."""
    return [f"-p{name}={value}" for name, value in sorted(load_algorithm().example_hyperparameters.items())]


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)  # noqa: T201


def show(text: str) -> None:
    print(f"    {text}", flush=True)  # noqa: T201


def synthesize(config: AppConfig, outdir: Path) -> Path:
    """The app's cloud assembly, built as `cdk synth` builds it (cdk.json's context, cdk-nag included)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app, _ = build_app(config, context=context, outdir=str(outdir))
    app.synth()
    return outdir


def make_asynchronous(endpoint: dict[str, Any], **asynchronous: Any) -> None:
    """Turns a parsed `[environments.<env>.endpoint]` table into an asynchronous endpoint on one ml.m5.large that
    scales to zero (up to two instances, four requests at a time each; `asynchronous` overrides), in place of
    whatever hosted it (variants, a serverless variant or an inference component) and of autoscaling, deployment
    and capture, which an asynchronous endpoint cannot have."""
    for setting in ("serverless", "inference_component", "autoscaling", "deployment", "data_capture_percentage"):
        endpoint.pop(setting, None)
    endpoint["variants"] = [{"instance_type": "ml.m5.large", "initial_instance_count": 1}]
    endpoint["asynchronous"] = {"max_instances": 2, "max_concurrent_invocations_per_instance": 4} | asynchronous


def write_configuration(hosting: str) -> AppConfig:
    """environments.toml with dev's endpoint `hosting` ("shipped" as it is, or "async"), as CONFIG_FILE."""
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    if hosting == "async":
        make_asynchronous(raw["environments"][ENVIRONMENT]["endpoint"])
    CONFIG_FILE.write_text(to_toml(raw))
    return parse_config(raw, default_account=ACCOUNT)


def config_with_pin(package: str) -> AppConfig:
    """The demo's configuration with Dev's endpoint pinned to the package version `package` (what `promote` prints)."""
    raw: dict[str, Any] = tomllib.loads(CONFIG_FILE.read_text())
    endpoint = raw["environments"][ENVIRONMENT]["endpoint"]
    endpoint.pop("model_artifact_key", None)
    endpoint["model_package"] = package
    return parse_config(raw, default_account=ACCOUNT)


def sample_dataset(server: MotoServer, bucket: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """1 000 rows, 5 features, label = whether a noisy function of them is positive; returns the rows to score."""
    rng = np.random.default_rng(2026)
    features = rng.normal(size=(1000, 5))
    signal = features[:, 0] + 0.5 * features[:, 1] - 0.25 * features[:, 2] ** 2 + rng.normal(scale=0.3, size=1000)
    labels = (signal > 0).astype(np.float64)

    def csv(rows: np.ndarray[Any, np.dtype[np.float64]]) -> bytes:
        return "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode()

    s3 = server.client("s3")
    parts = {
        "train/part-0.csv": csv(np.column_stack([labels[:700], features[:700]])),
        "validation/part-0.csv": csv(np.column_stack([labels[700:900], features[700:900]])),
        "score/part-0.csv": csv(features[900:]),
    }
    for name, body in parts.items():
        s3.put_object(Bucket=bucket, Key=f"{DATA_PREFIX}/{name}", Body=body)
        show(f"s3://{bucket}/{DATA_PREFIX}/{name} ({len(body.splitlines())} rows)")
    return features[900:]


def run_ops(server: MotoServer, *args: str, refused: bool = False) -> dict[str, Any]:
    """One `python -m sagemaker_ops` command against the emulator; its JSON document, or SystemExit on failure
    (with `refused`: on success, the command being one the demo shows refusing)."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = ops([*args, "--env", ENVIRONMENT, "--endpoint-url", server.url, "--json", "--poll-seconds", "1",
                    "--config", str(CONFIG_FILE)])  # fmt: skip
    document: dict[str, Any] = json.loads(captured.getvalue())
    if (code != SUCCESS) != refused:
        raise SystemExit(f"`sagemaker_ops {args[0]}` ended with exit {code}: {document.get('error')}")
    return document


def follow(server: MotoServer, execution_arn: str, prefix: str) -> dict[str, Any]:
    """Print each step the pipeline enters and its job's status, until the execution ends."""
    stepfunctions, sagemaker = server.client("stepfunctions"), server.client("sagemaker")
    job = f"{prefix}-{execution_arn.rsplit(':', maxsplit=1)[-1]}"
    seen: set[int] = set()
    last_job_status = ""
    deadline = time.monotonic() + PIPELINE_TIMEOUT_SECONDS
    while True:
        described = stepfunctions.describe_execution(executionArn=execution_arn)
        events = stepfunctions.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events:
            details = event.get("stateEnteredEventDetails")
            if details and event["id"] not in seen:
                seen.add(event["id"])
                show(f"step {details['name']}")
        job_status = _job_status(sagemaker, job)
        if job_status and job_status != last_job_status:
            show(f"  {job_status}")
            last_job_status = job_status
        if described["status"] != "RUNNING":
            return dict(described)
        if time.monotonic() > deadline:
            raise SystemExit(f"the pipeline did not finish within {PIPELINE_TIMEOUT_SECONDS} s")
        time.sleep(1)


def _job_status(sagemaker: Any, job: str) -> str:
    parts = []
    for describe, key, status in (
        ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
        ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    ):
        try:
            found = getattr(sagemaker, describe)(**{key: job})
        except sagemaker.exceptions.ClientError:
            continue
        parts.append(f"{describe.split('_')[1]} job {found[status]}" + (f" ({found['SecondaryStatus']})"
                     if "SecondaryStatus" in found else ""))  # fmt: skip
    return ", ".join(parts)


def keep(server: MotoServer, uri: str, name: str) -> Path:
    """A local copy of an emulator object (the emulator's S3 goes away with it)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    target = WORK / "outputs" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(server.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return target


def fit_configuration() -> None:
    """Rewrite environments.toml (a scratch copy's: scripts/demo_swap.py) for the exports' algorithm."""
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    for note in fit_to_algorithm(raw, load_algorithm(), load_schema()):
        show(f"config/environments.toml fitted to {load_algorithm().name}: {note}")
    DEFAULT_CONFIG_FILE.write_text(to_toml(raw))


def demo(keep_running: bool, hosting: str = "shipped") -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # noqa: S106 - moto's dummies
    os.environ.pop("AWS_PROFILE", None)
    config = write_configuration(hosting)
    if hosting == "async":
        show(f"dev's endpoint is asynchronous ({CONFIG_FILE.relative_to(ROOT)}): requests and results go through S3")

    say("1/8 synthesize the app (every environment, cdk-nag checks included)")
    assembly = synthesize(config, WORK / "assembly")
    show(f"cloud assembly: {assembly.relative_to(ROOT)}")

    say("2/8 start the local SageMaker (moto + local_sagemaker) and deploy Dev into it")
    server_log = WORK / "local-sagemaker.log"
    server_log.write_text("")
    server = start_moto_server(module="local_sagemaker", log=server_log)
    try:
        show(f"emulator: {server.url} (log: {server_log.relative_to(ROOT)})")
        artifacts = stack_artifacts(assembly, STAGE)
        bootstrap(server, artifacts)
        outputs: dict[str, dict[str, str]] = {}
        stacks: dict[str, DeployedStack] = {}
        for artifact in artifacts:
            stacks[artifact.stack_name] = deploy(server, artifact, outputs)
            show(f"deployed {artifact.stack_name}")
        platform = stacks[f"{STAGE}-Platform"].outputs
        run(server, platform, environment_prefix(config.app_name, ENVIRONMENT), keep_running)
    finally:
        say("cleaning up: stopping the local SageMaker (its containers stop with it)")
        server.stop()


def approve_and_promote(server: MotoServer, platform: dict[str, str], prefix: str, package: str) -> None:
    """Steps 5 and 6: a person approves the registered version; its pin is deployed."""
    version = package.rsplit("/", 1)[-1]
    say(f"5/8 the pipeline registered the model as version {version} of {prefix}, awaiting a person's approval")
    early = run_ops(server, "promote", "--package", version, refused=True)
    show(f"promote --package {version} before approval: refused ({early['error'].split(':')[0]})")
    approved = run_ops(server, "approve", "--package", version, "--reason", "demo: metrics and data reviewed")
    show(f"sagemaker_ops approve --env dev --package {version}: {approved['approval']} by {approved['decided_by']} "
         f"at {approved['decided_at']}; image kept as {approved['image_kept_as']}")  # fmt: skip

    say(f"6/8 promote it: sagemaker_ops promote --env dev --package {version}")
    promoted = run_ops(server, "promote", "--package", version)
    show("the pin to commit in config/environments.toml:")
    for line in promoted["pin"].splitlines():
        show(f"  {line}")
    show("re-synthesizing with the pin and updating Dev-Inference (what the deploy of that commit does)")
    pinned = synthesize(config_with_pin(promoted["version"]), WORK / "assembly-promoted")
    inference = next(a for a in stack_artifacts(pinned, STAGE) if a.stack_name == f"{STAGE}-Inference")
    outputs = {f"{STAGE}-Platform": platform}
    deploy(server, inference, outputs, template_suffix="-promoted")


def run(server: MotoServer, platform: dict[str, str], prefix: str, keep_running: bool) -> None:
    say("3/8 upload a small sample dataset to the data bucket")
    sample_dataset(server, platform["DataBucketName"])

    say("4/8 run the training pipeline: sagemaker_ops train --env dev --data-prefix demo")
    started = run_ops(server, "train", "--data-prefix", DATA_PREFIX, *_example_hyperparameters(), "--no-wait")
    ended = follow(server, started["execution_arn"], prefix)
    if ended["status"] != "SUCCEEDED":
        raise SystemExit(f"the pipeline ended {ended['status']}: {ended.get('error')}: {ended.get('cause')}")
    report = json.loads(ended["output"])
    job = report["training_job"]
    training = server.client("sagemaker").describe_training_job(TrainingJobName=job)
    metrics = ", ".join(f"{m['MetricName']}={m['Value']:.4f}" for m in training["FinalMetricDataList"])
    show(f"training job {job}: {metrics}")

    approve_and_promote(server, platform, prefix, report["model_package"])

    say("7/8 bring up the endpoint, invoke it, and show what it serves")
    smoke = run_ops(server, "smoke", "--row=0.5,-1.2,0.3,0.8,-0.1")
    show(f"smoke: endpoint {smoke['endpoint']} {smoke['status']}, prediction {smoke['prediction']} "
         f"in {smoke['latency_ms']} ms")  # fmt: skip
    if "output_location" in smoke:
        show(f"  asynchronously: request {smoke['input_location']}, result {smoke['output_location']}")
    sample = WORK / "outputs" / "request.csv"
    sample.parent.mkdir(parents=True, exist_ok=True)
    sample.write_text("1.5,0.2,0.1,0,0\n-1.5,-0.2,0.1,0,0\n0,0,2,0,0\n")
    invoked = run_ops(server, "invoke", "--file", str(sample))
    predictions = str(invoked["predictions"]).split()
    show(f"invoke {sample.relative_to(ROOT)} (3 rows): predictions {', '.join(predictions)}")
    if smoke.get("inference_component"):
        scale_to_zero_and_back(server, smoke["inference_component"], sample)
    served = run_ops(server, "status")["model_package"]
    show(f"status: serves {served['version']} ({served['approval']} by {served['decided_by']} at "
         f"{served['decided_at']}), trained by {served['training_job']} on {served['data']}, "
         f"metrics {served['metrics'] or 'none recorded'}, hyperparameters {served['hyperparameters']}")  # fmt: skip

    say("8/8 where each output lives")
    scores_uri = report["scores"] + "part-0.csv.out"
    kept = {
        "model": keep(server, report["model_artifact"], "model.tar.gz"),
        "scores": keep(server, scores_uri, "scores.csv"),
    }
    show(f"model artifact   {report['model_artifact']}  (copy: {kept['model'].relative_to(ROOT)})")
    show(f"model package    {report['model_package']}")
    show(f"scores           {scores_uri}  (copy: {kept['scores'].relative_to(ROOT)}; each line: features, score)")
    show(f"checkpoints      {training['CheckpointConfig']['S3Uri']}" if "CheckpointConfig" in training else "")
    show(f"training log     CloudWatch Logs /aws/sagemaker/TrainingJobs, streams {job}/algo-1-*")
    show(f"transform log    CloudWatch Logs /aws/sagemaker/TransformJobs, streams {job}/*")
    logged = serving_log_group_name(smoke["endpoint"], smoke["inference_component"])
    show(f"endpoint         {smoke['endpoint']} (log group {logged})")
    show(f"notification     SNS topic {platform['AlarmTopicArn']}")
    if "AsyncResultTopicArn" in platform:
        show(f"async results    SNS topic {platform['AsyncResultTopicArn']} (each request's success or error)")
    show(f"emulator log     {(WORK / 'local-sagemaker.log').relative_to(ROOT)}")
    if keep_running:
        say(f"the emulator stays up at {server.url} until Ctrl-C; e.g. python -m sagemaker_ops status --env dev "
            f"--endpoint-url {server.url}")  # fmt: skip
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def scale_to_zero_and_back(server: MotoServer, component: str, sample: Path) -> None:
    """Dev's endpoint hosts an inference component that scales to zero: show the scale-in and the cold start."""
    sagemaker = server.client("sagemaker")
    sagemaker.update_inference_component_runtime_config(
        InferenceComponentName=component, DesiredRuntimeConfig={"CopyCount": 0}
    )
    show(f"scale to zero: {component} at 0 copies (in AWS, target tracking after ~15 idle minutes; then the "
         "instance is released and nothing runs)")  # fmt: skip
    run_ops(server, "invoke", "--file", str(sample))
    copies = sagemaker.describe_inference_component(InferenceComponentName=component)["RuntimeConfig"]
    show(f"the first request at zero was refused (NoCapacityInvocationFailures), which scaled out from zero to "
         f"{copies['CurrentCopyCount']} copy; invoke waited and got its answer after the model server's cold start "
         "(in AWS: minutes, while an instance is provisioned)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep-running", action="store_true", help="leave the emulator up at the end (Ctrl-C)")
    parser.add_argument("--algorithm", help="a folder of container/ (default: the Dockerfile's ARG ALGORITHM)")
    parser.add_argument(
        "--hosting", choices=["shipped", "async"], default="shipped", help="dev's endpoint: as shipped, or asynchronous"
    )
    parser.add_argument("--fit-configuration", action="store_true", help=argparse.SUPPRESS)  # in the scratch copy
    args = parser.parse_args(argv)
    folder = (args.algorithm or "").partition(":")[0]  # conformance's module:attribute works too
    if folder and folder != chosen():
        return run_in_copy(
            folder, WORK, [*(["--keep-running"] if args.keep_running else []), "--hosting", args.hosting]
        )
    started = time.monotonic()
    if args.fit_configuration:
        fit_configuration()
    demo(args.keep_running, args.hosting)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
