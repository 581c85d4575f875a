"""The training stack of each environment: the pipeline's definition, its permissions, and the container's metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from config import parse_config
from config.contract import METRIC_DEFINITIONS_FILE
from config.settings import DEFAULT_CONFIG_FILE
from local_sagemaker import image_imports
from stacks import PlatformStack, TrainingStack
from tests import declared
from tests.helpers import TEST_ACCOUNT, TOKEN, Synthesized, cdk_context, definition, of_type, one_of_type

ENVIRONMENTS = ["dev", "staging", "prod"]
ENTRYPOINT = METRIC_DEFINITIONS_FILE.parent / "entrypoint.py"


def _states(synthesized: Synthesized, environment: str) -> dict[str, Any]:
    states: dict[str, Any] = definition(synthesized.template(environment, "Training"))["States"]
    return states


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policy = one_of_type(template, "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_standard_state_machine_logs_everything_encrypted_and_traces(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN the pipeline is a STANDARD state machine that traces and logs everything to an encrypted log
    group with the configured retention, and its ARN is an output."""
    template = synthesized.template(environment, "Training")
    properties = one_of_type(template, "AWS::StepFunctions::StateMachine")["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    log_group = one_of_type(template, "AWS::Logs::LogGroup")["Properties"]
    assert log_group["RetentionInDays"] == synthesized.config.environment(environment).log_retention_days
    assert "KmsKeyId" in log_group
    # Retained groups end in the stack's id (a new stack must not meet the one a deleted stack left behind).
    name = json.dumps(log_group["LogGroupName"])
    assert name.startswith(('"/aws/vendedlogs/states/', '{"Fn::Join": ["-", ["/aws/vendedlogs/states/'))
    assert "StateMachineArn" in template["Outputs"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_pipeline_trains_evaluates_creates_a_model_scores_and_notifies(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment (with or without a quality gate)
    WHEN the pipeline's definition is read
    THEN it trains, evaluates if gated, registers the version in the environment's group, creates a model,
    scores, reports and notifies; each job's failure is caught, notified and fails the execution with the job's
    error."""
    states = _states(synthesized, environment)
    gate = synthesized.config.environment(environment).training.evaluation
    assert states["Train"]["Next"] == ("Evaluate" if gate else "Lineage")
    assert states["Lineage"]["Next"] == "WriteMetrics"
    assert states["WriteMetrics"]["Next"] == "Register"
    assert states["Register"]["Next"] == "CreateModel"
    assert states["Register"]["Parameters"]["ModelPackageGroupName"] == f"sagemaker-gbdt-{environment}"
    assert states["Register"]["Parameters"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert states["CreateModel"]["Next"] == "Score"
    assert states["Score"]["Next"] == "Report"
    assert states["Report"]["Next"] == "NotifySucceeded"
    assert states["NotifySucceeded"]["End"] is True
    assert states["NotifySucceeded"]["OutputPath"] == "$.report"
    stages = (
        ("Train", "Training"),
        ("Register", "Registration"),
        ("CreateModel", "ModelCreation"),
        ("Score", "Transform"),
    )
    for task, stage in stages:
        assert states[task]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": f"Notify{stage}Failed"}
        ]
        assert states[f"Notify{stage}Failed"]["Next"] == f"{stage}Failed"
        assert states[f"{stage}Failed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_the_quality_gate_compares_the_final_metric_with_the_threshold(synthesized: Synthesized) -> None:
    """GIVEN staging's quality gate
    WHEN the pipeline's definition is read
    THEN the gate requires the final metric and compares it with the threshold, else rejects the model."""
    gate = synthesized.config.environment("staging").training.evaluation
    if gate is None:
        pytest.skip("staging has no quality gate in config/environments.toml")
    states = _states(synthesized, "staging")
    assert gate.metric in states["Evaluate"]["Parameters"]["values.$"]
    condition = states["MeetsQualityGate"]["Choices"][0]["And"]
    assert {"Variable": "$.evaluation.values[0]", "IsPresent": True} in condition
    compare = "NumericGreaterThanEquals" if gate.higher_is_better else "NumericLessThanEquals"
    assert {"Variable": "$.evaluation.values[0]", compare: gate.threshold} in condition
    assert states["MeetsQualityGate"]["Default"] == "NotifyModelRejected"
    assert states["NotifyModelRejected"]["Next"] == "ModelRejected"


def test_input_defaults_come_from_the_configuration_and_a_data_prefix_is_required(synthesized: Synthesized) -> None:
    """GIVEN prod's training and transform settings
    WHEN the pipeline's definition is read
    THEN the input defaults are those settings, data_prefix is required, and jobs are named and tagged
    after the execution."""
    settings = synthesized.config.environment("prod")
    states = _states(synthesized, "prod")
    defaults = states["ApplyDefaults"]["Parameters"]["defaults"]
    assert defaults["instance_type"] == settings.training.instance_type
    assert defaults["instance_count"] == settings.training.instance_count
    assert defaults["transform_instance_type"] == settings.transform.instance_type
    assert defaults["transform_instance_count"] == settings.transform.instance_count
    assert defaults["commit"] == "unknown"
    assert states["MergeInput"]["Parameters"]["default_hyperparameters"] == settings.training.hyperparameters
    assert states["CheckInput"]["Default"] == "InvalidInput"
    assert {"Variable": "$.input.data_prefix", "IsPresent": True} in states["CheckInput"]["Choices"][0]["And"]
    assert states["Prepare"]["Parameters"]["job_name.$"] == "States.Format('sagemaker-gbdt-prod-{}', $$.Execution.Name)"
    tags = {t["Key"]: t.get("Value", t.get("Value.$")) for t in states["Prepare"]["Parameters"]["tags"]}
    assert tags == {
        "Environment": "prod",
        "Project": "sagemaker-gbdt",
        "Commit": "$.args.commit",
        "PipelineExecution": "$$.Execution.Name",
    }


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_dev_and_staging_train_on_spot_with_checkpoints_in_the_artifacts_bucket(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN dev and staging (use_spot)
    WHEN the pipeline's definition is read
    THEN training runs on spot, stops after the configured times and checkpoints to the artifacts bucket."""
    settings = synthesized.config.environment(environment).training
    if not settings.use_spot:
        pytest.skip(f"{environment} does not train on spot in config/environments.toml")
    train = _states(synthesized, environment)["Train"]
    assert train["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    parameters = train["Parameters"]
    assert parameters["EnableManagedSpotTraining"] is True
    assert parameters["StoppingCondition"] == {
        "MaxRuntimeInSeconds": settings.max_runtime_seconds,
        "MaxWaitTimeInSeconds": settings.max_wait_seconds,
    }
    assert parameters["CheckpointConfig"] == {
        "S3Uri.$": f"States.Format('s3://{TOKEN}/checkpoints/{{}}/', $.job_name)",
        "LocalPath": "/opt/ml/checkpoints",
    }


def test_prod_trains_on_demand(synthesized: Synthesized) -> None:
    """GIVEN prod (no spot) WHEN the pipeline's definition is read THEN training is on-demand without checkpoints."""
    parameters = _states(synthesized, "prod")["Train"]["Parameters"]
    assert "EnableManagedSpotTraining" not in parameters
    assert "CheckpointConfig" not in parameters
    assert parameters["StoppingCondition"] == {"MaxRuntimeInSeconds": 28800}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_training_job_reads_both_channels_and_encrypts_everything(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment
    WHEN the training state is read
    THEN it reads train and validation CSV under the data prefix, reports the container's metrics, and
    encrypts output, volumes and traffic between hosts."""
    settings = synthesized.config.environment(environment).training
    parameters = _states(synthesized, environment)["Train"]["Parameters"]
    assert parameters["TrainingJobName.$"] == "$.job_name"
    assert parameters["RoleArn"] == TOKEN
    algorithm = parameters["AlgorithmSpecification"]
    assert algorithm["TrainingInputMode"] == settings.input_mode
    assert algorithm["MetricDefinitions"] == json.loads(METRIC_DEFINITIONS_FILE.read_text())
    assert parameters["HyperParameters.$"] == "$.hyperparameters"
    channels = {c["ChannelName"]: c for c in parameters["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for name, channel in channels.items():
        source = channel["DataSource"]["S3DataSource"]
        assert source["S3Uri.$"] == f"States.Format('s3://{TOKEN}/{{}}/{name}/', $.args.data_prefix)"
        assert channel["ContentType"] == "text/csv"
    assert parameters["OutputDataConfig"]["KmsKeyId"] == TOKEN
    resources = parameters["ResourceConfig"]
    assert resources["VolumeKmsKeyId"] == TOKEN
    assert resources["VolumeSizeInGB"] == settings.volume_size_gb
    assert resources["InstanceType.$"] == "$.args.instance_type"
    assert resources["InstanceCount.$"] == "$.args.instance_count"
    assert parameters["EnableInterContainerTrafficEncryption"] is True
    assert parameters["Tags.$"] == "$.tags"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_batch_scoring_uses_the_served_approved_version_where_one_is_pinned(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment: staging and prod pin an approved version, dev an artifact
    WHEN the model state the batch transform scores with is read
    THEN staging and prod score with their pinned version (never the run's candidate, which awaits a person), dev
    with the model the run trained; network-isolated, as the execution role; the report says which."""
    states = _states(synthesized, environment)
    parameters = states["CreateModel"]["Parameters"]
    assert parameters["ModelName.$"] == "$.job_name"
    assert parameters["EnableNetworkIsolation"] is True
    assert parameters["ExecutionRoleArn"] == TOKEN
    assert parameters["Tags.$"] == "$.tags"
    package = synthesized.config.environment(environment).endpoint.package
    report = states["Report"]["Parameters"]
    if package is None:
        assert parameters["PrimaryContainer"]["ModelDataUrl.$"] == "$.training.ModelArtifacts.S3ModelArtifacts"
        assert report["scored_with.$"] == "$.training.ModelArtifacts.S3ModelArtifacts"
    else:
        arn = f"arn:{TOKEN}:sagemaker:{TOKEN}:{TOKEN}:model-package/{package.group}/{package.version}"
        assert parameters["PrimaryContainer"] == {"ModelPackageName": arn}
        assert report["scored_with"] == arn


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_batch_transform_joins_lines_with_predictions_within_the_containers_limits(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment's transform settings
    WHEN the scoring state is read
    THEN it scores CSV lines in batches within the container's limits and joins each with its prediction,
    encrypted."""
    settings = synthesized.config.environment(environment).transform
    score = _states(synthesized, environment)["Score"]
    assert score["Resource"].endswith(":states:::sagemaker:createTransformJob.sync")
    parameters = score["Parameters"]
    assert parameters["BatchStrategy"] == "MultiRecord"
    assert parameters["MaxPayloadInMB"] == settings.max_payload_mb
    assert parameters["MaxConcurrentTransforms"] == settings.max_concurrent_transforms
    # The container's /execution-parameters answer the same: it reads these variables.
    assert parameters["Environment"]["SAGEMAKER_MAX_PAYLOAD_IN_MB"] == str(settings.max_payload_mb)
    assert parameters["Environment"]["SAGEMAKER_MODEL_SERVER_WORKERS"] == str(settings.max_concurrent_transforms)
    assert parameters["TransformInput"]["SplitType"] == "Line"
    assert parameters["TransformInput"]["ContentType"] == "text/csv"
    assert parameters["TransformOutput"]["AssembleWith"] == "Line"
    assert parameters["TransformOutput"]["KmsKeyId"] == TOKEN
    assert parameters["DataProcessing"] == {"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"}
    assert parameters["TransformResources"]["VolumeKmsKeyId"] == TOKEN
    assert parameters["TransformResources"]["InstanceCount.$"] == "$.args.transform_instance_count"
    assert parameters["Tags.$"] == "$.tags"


def test_prod_scores_on_several_instances(synthesized: Synthesized) -> None:
    """GIVEN prod WHEN the pipeline's defaults are read THEN scoring runs on at least two instances."""
    defaults = _states(synthesized, "prod")["ApplyDefaults"]["Parameters"]["defaults"]
    assert defaults["transform_instance_count"] >= 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_pipeline_role_touches_only_its_own_jobs_role_topic_and_key(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment
    WHEN the pipeline role's policy is read
    THEN it may run only the app's own jobs, pass only the execution role to SageMaker, publish to the
    alarm topic, and has no inline policies and no S3 but putting the final metrics' documents of its own jobs."""
    template = synthesized.template(environment, "Training")
    prefix = f"sagemaker-gbdt-{environment}-*"
    statements = {s["Sid"]: s for s in _statements(template)}
    for sid, kind in (
        ("RunTrainingJobs", "training-job"),
        ("CreateModels", "model"),
        ("RunTransformJobs", "transform-job"),
    ):
        resource = statements[sid]["Resource"]
        assert resource["Fn::Join"][1][-1] == f":{kind}/{prefix}", sid
    pass_role = statements["PassExecutionRoleToSageMaker"]
    assert pass_role["Action"] == "iam:PassRole"
    assert "ExecutionRole" in json.dumps(pass_role["Resource"])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # SageMaker reads and writes S3 with the execution role; the pipeline writes only its jobs' metrics documents,
    # through the policy the Platform stack makes next to the bucket, which the role attaches.
    assert not [sid for sid, s in statements.items() if "s3:" in json.dumps(s["Action"])]
    platform = synthesized.template(environment, "Platform")
    (metrics_id,) = [
        i for i, p in of_type(platform, "AWS::IAM::ManagedPolicy").items() if "WriteFinalMetrics" in json.dumps(p)
    ]
    ((write,),) = [platform["Resources"][metrics_id]["Properties"]["PolicyDocument"]["Statement"]]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"]["Fn::Join"][1][-1] == f"/*/models/{prefix}/output/metrics.json"
    assert "ArtifactsBucket" in json.dumps(write["Resource"]["Fn::Join"][1][0])
    attached = one_of_type(template, "AWS::IAM::Role")["Properties"]["ManagedPolicyArns"]
    assert [a["Fn::GetStackOutput"]["StackName"] for a in attached] == [f"{environment.capitalize()}-Platform"]
    assert all(
        a.startswith(("logs:", "xray:")) for s in statements.values() if s["Resource"] == "*" for a in s["Action"]
    )
    assert "AlarmTopic" in json.dumps(statements["Notify"]["Resource"])
    trust = one_of_type(template, "AWS::IAM::Role")["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    # No inline policies: the tasks' own grants (sagemaker on every job, ListTags on '*') never land.
    assert not of_type(template, "AWS::IAM::Policy")
    depends = one_of_type(template, "AWS::StepFunctions::StateMachine")["DependsOn"]
    assert set(of_type(template, "AWS::IAM::ManagedPolicy")) <= set(depends)


def test_the_execution_role_gets_no_extra_grants_from_the_pipeline(synthesized: Synthesized) -> None:
    """GIVEN the platform stacks WHEN the app is synthesized THEN the pipeline added no inline policy to them."""
    for environment in ENVIRONMENTS:
        assert not of_type(synthesized.template(environment, "Platform"), "AWS::IAM::Policy")


def test_no_schedule_and_no_notebook_by_default(synthesized: Synthesized) -> None:
    """GIVEN the shipped configuration WHEN the app is synthesized THEN there is no schedule and no notebook."""
    for environment in ENVIRONMENTS:
        template = synthesized.template(environment, "Training")
        assert not of_type(template, "AWS::Events::Rule")
        assert not of_type(template, "AWS::SageMaker::NotebookInstance")


def _training_template(tmp_path: Path, edit: dict[str, Any]) -> dict[str, Any]:
    """Platform and Training of dev only, with `edit` merged into dev's settings (no nag: fast)."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    for section, values in edit.items():
        raw["environments"]["dev"].setdefault(section, {}).update(values)
    settings = parse_config(raw, default_account=TEST_ACCOUNT).environment("dev")
    container = tmp_path / "container"
    container.mkdir()
    (container / "Dockerfile").write_text("FROM scratch\n")
    app = cdk.App(context=cdk_context(), outdir=str(tmp_path / "out"))
    env = cdk.Environment(account=TEST_ACCOUNT, region=settings.region)
    platform = PlatformStack(app, "Platform", app_name="app", settings=settings, container_directory=container, env=env)
    training = TrainingStack(app, "Training", app_name="app", settings=settings, platform=platform, env=env)
    return dict(Template.from_stack(training).to_json())


def test_a_configured_schedule_starts_the_pipeline_for_batch_scoring(tmp_path: Path) -> None:
    """GIVEN a schedule in dev's transform settings
    WHEN the training stack is synthesized
    THEN a rule starts the state machine on that schedule with those prefixes."""
    schedule = {"expression": "cron(0 3 * * ? *)", "data_prefix": "datasets/daily", "score_prefix": "incoming"}
    template = _training_template(tmp_path, {"transform": {"schedule": schedule}})
    rule = one_of_type(template, "AWS::Events::Rule")["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["State"] == "ENABLED"
    target = rule["Targets"][0]
    assert "StateMachine" in json.dumps(target["Arn"])
    assert json.loads(target["Input"]) == {
        "data_prefix": "datasets/daily",
        "score_prefix": "incoming",
        "output_prefix": "scheduled",
        "commit": "scheduled",
    }


def test_an_enabled_notebook_is_private_encrypted_and_runs_as_its_own_role(tmp_path: Path) -> None:
    """GIVEN an enabled notebook in a VPC
    WHEN the training stack is synthesized
    THEN the notebook has no internet access and no root, is encrypted and runs as its own role (not the
    execution role)."""
    vpc = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}
    template = _training_template(tmp_path, {"notebook": {"enabled": True, "vpc": vpc, "idle_minutes": 30}})
    notebook = one_of_type(template, "AWS::SageMaker::NotebookInstance")["Properties"]
    assert notebook["DirectInternetAccess"] == "Disabled"
    assert notebook["RootAccess"] == "Disabled"
    assert notebook["SubnetId"] == "subnet-0123456789abcdef0"
    assert "KmsKeyId" in notebook
    assert "NotebookRole" in json.dumps(notebook["RoleArn"])
    assert "ExecutionRole" not in json.dumps(notebook["RoleArn"])


# ----- the regexes in the definition match what the container really prints ---------------------------

_FLOAT = re.compile(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?")


def _tree(root: Path, hyperparameters: dict[str, str]) -> Path:
    """An /opt/ml tree with 120 rows of CSV (0/1 label first, no header) in train and validation."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    channel = {"ContentType": "text/csv", "TrainingInputMode": "File"}
    (config / "inputdataconfig.json").write_text(json.dumps({"train": channel, "validation": channel}))
    for name in ("train", "validation"):
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True)
        rows = []
        for i in range(120):
            features = [((i * 7 + j * 13) % 17) / 4.0 - 2 for j in range(4)]
            rows.append(",".join(f"{v:g}" for v in [float(features[0] > 0), *features]))
        (folder / "data.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_every_metric_regex_in_the_pipeline_matches_the_containers_real_training_log(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    if not ENTRYPOINT.is_file():
        pytest.skip(f"the container's entry point {ENTRYPOINT} does not exist yet")
    # GIVEN the MetricDefinitions as the dev pipeline sends them to SageMaker
    definitions = _states(synthesized, "dev")["Train"]["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]
    # WHEN the real entry point trains with hyperparameters that report every declared metric between them
    # (one job per metric its metric hyperparameter chooses, if it has one; in parallel: about 1 s each)
    runs = {
        json.dumps(values): subprocess.Popen(
            image_imports.command(ENTRYPOINT, ["train"]),
            env={**os.environ, "OMP_NUM_THREADS": "1", "OPT_ML_DIR": str(_tree(tmp_path / str(index), values))},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index, values in enumerate(declared.reporting_every_metric())
    }
    log = []
    for values, process in runs.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, f"{values}: {output[-2000:]}"
        log.extend(output.splitlines())
    # THEN every regex matches at least one line and captures a number
    for metric in definitions:
        captured = [m.group(1) for line in log if (m := re.search(metric["Regex"], line))]
        assert captured, f"{metric['Name']}: no line of the training log matches {metric['Regex']!r}"
        assert all(_FLOAT.fullmatch(value) for value in captured), metric["Name"]
        float(captured[-1])


def test_a_configured_schedule_passes_the_compliance_packs(tmp_path: Path) -> None:
    """GIVEN dev alone, with the batch schedule environments.toml documents
    WHEN app.py builds and synthesizes it, cdk-nag's packs included
    THEN synthesis succeeds, and the rule's role may only start this pipeline, through a managed policy."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"] = {"dev": raw["environments"]["dev"]}
    raw["environments"]["dev"]["transform"]["schedule"] = {
        "expression": "cron(0 3 * * ? *)",
        "data_prefix": "datasets/daily",
        "output_prefix": "scheduled",
    }
    config = parse_config(raw, default_account=TEST_ACCOUNT)
    assembly = build(config, context=cdk_context(), outdir=str(tmp_path)).synth()
    (template,) = [
        s.template for s in assembly.get_nested_assembly("assembly-Dev").stacks if s.stack_name == "Dev-Training"
    ]
    rule = one_of_type(template, "AWS::Events::Rule")
    role_id = rule["Properties"]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
    assert not [
        p for p in of_type(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    (policy,) = [
        p for p in of_type(template, "AWS::IAM::ManagedPolicy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == {"Ref": next(iter(of_type(template, "AWS::StepFunctions::StateMachine")))}
