"""Every subcommand of the operations CLI against the environments deployed into the emulator.

moto does not run the container: invocations return results queued through moto's own API, jobs
complete at once and pipeline executions stay RUNNING until stopped. The container's own tests
run the real program.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local_sagemaker.server import MotoServer
from sagemaker_ops.cli import AWS_ERROR, FAILED, OK, TIMED_OUT, USAGE, main
from sagemaker_ops.deployment import Deployment
from tests.conftest import ROOT, Synthesized
from tests.declared import EXAMPLE
from tests.emulator.conftest import DeployedApp
from tests.helpers import fake_aws_credentials


@pytest.fixture(autouse=True)
def _emulator_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_aws_credentials(monkeypatch)


def run(server: MotoServer, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """`python -m sagemaker_ops <args> --endpoint-url <moto> --json`: exit code and the JSON document."""
    code = main([*args, "--endpoint-url", server.url, "--json", "--poll-seconds", "0.05"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def queue_endpoint_result(server: MotoServer, body: str) -> None:
    results = {"results": [{"Body": body, "ContentType": "application/json"}]}
    server.post("/moto-api/static/sagemaker/endpoint-results", json.dumps(results).encode())


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_status_reports_the_endpoint_its_config_and_the_last_deployment(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], environment: str
) -> None:
    # GIVEN a deployed environment
    inference = deployed.stack(environment, "Inference")
    # WHEN an operator asks for its status
    code, status = run(deployed.server, capsys, "status", "--env", environment)
    # THEN it names the endpoint, the config it runs (the stack's), its variants and the last deploy
    assert code == OK
    assert status["endpoint"] == inference.outputs["EndpointName"]
    assert status["status"] == "InService"
    assert status["runs_expected_config"] is True
    assert [v["name"] for v in status["variants"]] == ["primary"]
    assert status["last_deployment"]["stack"] == f"{environment.capitalize()}-Inference"
    assert status["last_deployment"]["stack_status"] == "CREATE_COMPLETE"


def test_invoke_sends_the_file_and_prints_the_predictions(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a CSV request and the answer the emulated endpoint will give
    request = tmp_path / "rows.csv"
    request.write_text("5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n")
    queue_endpoint_result(deployed.server, '{"predictions": [0.12, 0.87]}')
    # WHEN it is sent to staging's endpoint
    code, answer = run(deployed.server, capsys, "invoke", "--env", "staging", "--file", str(request))
    # THEN the predictions come back, parsed, with the content type taken from the file
    assert code == OK
    assert answer["predictions"] == {"predictions": [0.12, 0.87]}
    assert answer["content_type"] == "text/csv"


def test_invoke_rejects_a_file_whose_content_type_it_cannot_tell(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a request file without a known extension
    request = tmp_path / "rows.txt"
    request.write_text("1,2,3\n")
    # WHEN it is sent THEN it is a usage error that says what to do
    code, answer = run(deployed.server, capsys, "invoke", "--env", "dev", "--file", str(request))
    assert code == USAGE
    assert "--content-type" in answer["error"]


def test_smoke_passes_when_the_endpoint_answers_and_runs_the_stacks_config(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN prod just deployed, and the answer its endpoint will give
    queue_endpoint_result(deployed.server, '{"predictions": [0.5]}')
    # WHEN the post-deploy smoke test runs with one sample row
    code, result = run(deployed.server, capsys, "smoke", "--env", "prod", "--row", "5.1,3.5,1.4,0.2")
    # THEN it passes, having invoked the endpoint that runs the stack's endpoint config
    assert code == OK
    assert result["ok"] is True
    assert result["prediction"] == {"predictions": [0.5]}
    assert result["endpoint_config"] == result["expected_endpoint_config"]


def test_a_stack_that_is_not_deployed_is_an_aws_error(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a region where nothing is deployed WHEN the status is asked for THEN it exits 3 naming the stack
    code, result = run(deployed.server, capsys, "status", "--env", "prod", "--region", "eu-west-1")
    assert code == AWS_ERROR
    assert "Prod-Inference is not deployed" in result["error"]


def test_transform_runs_a_batch_job_with_the_deployed_model(
    deployed: DeployedApp, synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging's deployed model and data in its data bucket
    sagemaker = deployed.server.client("sagemaker")
    model = deployed.stack("staging", "Inference").physical_ids["Model2AD80A05"].split("/")[-1]
    data = deployed.stack("staging", "Platform").outputs["DataBucketName"]
    # WHEN a batch transform of a prefix of the data bucket is started and waited for
    code, result = run(
        deployed.server, capsys, "transform", "--env", "staging", "--input", "batch/2026-11-26/", "--job-name", "t-1"
    )
    # THEN the job ran the stack's model on the configured instances and wrote to the artifacts bucket
    assert code == OK
    assert result["status"] == "Completed"
    assert result["input"] == f"s3://{data}/batch/2026-11-26/"
    job = sagemaker.describe_transform_job(TransformJobName="t-1")
    assert job["ModelName"] == model
    configured = synthesized.config.environment("staging").transform
    assert job["TransformResources"] == {
        "InstanceType": configured.instance_type,
        "InstanceCount": configured.instance_count,
    }
    assert (job["MaxPayloadInMB"], job["MaxConcurrentTransforms"]) == (
        configured.max_payload_mb,
        configured.max_concurrent_transforms,
    )
    assert result["output"].startswith(f"s3://{deployed.stack('staging', 'Platform').outputs['ArtifactsBucketName']}/")


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_logs_prints_the_endpoints_recent_events(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], environment: str
) -> None:
    # GIVEN an event where the endpoint's containers log: staging's endpoint's log group (named after the
    # endpoint, as SageMaker does), dev's inference component's own (which its stack created)
    outputs = deployed.stack(environment, "Inference").outputs
    component = outputs.get("InferenceComponentName")
    group = (
        f"/aws/sagemaker/InferenceComponents/{component}"
        if component
        else f"/aws/sagemaker/Endpoints/{outputs['EndpointName']}"
    )
    logs = deployed.server.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="primary/i-0abc")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="primary/i-0abc",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "model loaded"}],
    )
    # WHEN the logs of the last hour are asked for
    code, result = run(deployed.server, capsys, "logs", "--env", environment, "--since", "1h")
    # THEN the event is there
    assert code == OK
    assert result["log_group"] == group
    assert [e["message"] for e in result["events"]] == ["model loaded"]


def test_promote_prints_the_pin_of_a_finished_training_job(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a finished training job that wrote its model to dev's artifacts bucket (staging and prod take
    # approved package versions only: tests/sagemaker_ops/test_registry_command.py)
    platform = deployed.stack("dev", "Platform")
    artifacts = platform.outputs["ArtifactsBucketName"]
    deployed.server.client("sagemaker").create_training_job(
        TrainingJobName="gbdt-2026-11-26",
        AlgorithmSpecification={"TrainingImage": platform.outputs["ImageUri"], "TrainingInputMode": "File"},
        RoleArn=platform.outputs["ExecutionRoleArn"],
        OutputDataConfig={"S3OutputPath": f"s3://{artifacts}/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    # WHEN the operator asks for its pin
    code, result = run(deployed.server, capsys, "promote", "--env", "dev", "--job", "gbdt-2026-11-26")
    # THEN it is the key to put in the configuration, in the environment's TOML table
    assert code == OK
    assert result["model_artifact_key"] == "models/gbdt-2026-11-26/output/model.tar.gz"
    assert 'model_artifact_key = "models/gbdt-2026-11-26/output/model.tar.gz"' in result["pin"]
    assert result["pin"].startswith("[environments.dev.endpoint]")


def test_promote_refuses_a_model_outside_the_environments_artifacts_bucket(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job that wrote its model to staging's bucket
    staging = deployed.stack("staging", "Platform").outputs
    deployed.server.client("sagemaker").create_training_job(
        TrainingJobName="gbdt-staging-only",
        AlgorithmSpecification={"TrainingImage": staging["ImageUri"], "TrainingInputMode": "File"},
        RoleArn=staging["ExecutionRoleArn"],
        OutputDataConfig={"S3OutputPath": f"s3://{staging['ArtifactsBucketName']}/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    # WHEN it is promoted to dev THEN the check fails: dev's endpoint could not read it
    code, result = run(deployed.server, capsys, "promote", "--env", "dev", "--job", "gbdt-staging-only")
    assert code == FAILED
    assert "not in this environment's artifacts bucket" in result["error"]


@pytest.fixture
def training_state_machine(deployed: DeployedApp) -> str:
    """dev's training pipeline: the Training stack when the app has one, else a stand-in stack."""
    if "Training" in deployed.stacks["dev"]:
        return deployed.stack("dev", "Training").outputs["StateMachineArn"]
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Pipeline": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": '{"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": true}}}',
                    "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                },
            },
        },
        "Outputs": {"StateMachineArn": {"Value": {"Ref": "Pipeline"}}},
    }
    cloudformation = deployed.server.client("cloudformation")
    try:
        cloudformation.describe_stacks(StackName="Dev-Training")
    except cloudformation.exceptions.ClientError:
        cloudformation.create_stack(StackName="Dev-Training", TemplateBody=json.dumps(template))
    outputs = cloudformation.describe_stacks(StackName="Dev-Training")["Stacks"][0]["Outputs"]
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == "StateMachineArn"))


def test_train_starts_the_pipeline_with_the_data_prefix_and_hyperparameters(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], training_state_machine: str
) -> None:
    # GIVEN dev's training pipeline
    # WHEN training is started without waiting
    given = dict(sorted(EXAMPLE.items())[:2])  # valid values of the algorithm's hyperparameters
    code, result = run(
        deployed.server, capsys, "train", "--env", "dev", "--data-prefix", "training/2026-11/",
        *(f"-p{name}={value}" for name, value in given.items()), "--no-wait",
    )  # fmt: skip
    # THEN the pipeline runs with that input (the prefix without the trailing '/' its CheckInput refuses)
    assert code == OK
    execution = deployed.server.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    assert execution["stateMachineArn"] == training_state_machine
    assert json.loads(execution["input"]) == {
        "data_prefix": "training/2026-11",
        "hyperparameters": given,
    }


def test_train_waits_and_exits_4_when_the_pipeline_outlasts_the_timeout(
    deployed: DeployedApp, capsys: pytest.CaptureFixture[str], training_state_machine: str
) -> None:
    # GIVEN dev's pipeline, whose executions stay RUNNING in the emulator
    # WHEN training is started and waited for at most 0.3 s
    code, result = run(deployed.server, capsys, "train", "--env", "dev", "--data-prefix", "t/", "--timeout", "0.3")
    # THEN the progress shows the state, and the exit code says the job is still running
    assert code == TIMED_OUT
    assert "still RUNNING" in result["error"]


def test_train_exits_1_when_the_pipeline_ends_without_success(
    deployed: DeployedApp,
    capsys: pytest.CaptureFixture[str],
    training_state_machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an execution that is stopped while the CLI waits for it
    stepfunctions = deployed.server.client("stepfunctions")
    original_start = stepfunctions.start_execution

    def stop_right_away(**kwargs: Any) -> Any:
        started = original_start(**kwargs)
        stepfunctions.stop_execution(executionArn=started["executionArn"])
        return started

    monkeypatch.setattr(stepfunctions, "start_execution", stop_right_away)
    real_client = Deployment.client

    def client(self: Deployment, service: str) -> Any:
        return stepfunctions if service == "stepfunctions" else real_client(self, service)

    monkeypatch.setattr(Deployment, "client", client)
    # WHEN training is started and waited for
    code, result = run(deployed.server, capsys, "train", "--env", "dev", "--data-prefix", "t/", "--timeout", "5")
    # THEN it reports the end state and exits 1
    assert code == FAILED
    assert result["status"] == "ABORTED"


def test_the_module_runs_as_a_program_and_documents_its_exit_codes() -> None:
    # GIVEN the package WHEN run as `python -m sagemaker_ops` with --help, and without a subcommand
    helped = subprocess.run(
        [sys.executable, "-m", "sagemaker_ops", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    misused = subprocess.run([sys.executable, "-m", "sagemaker_ops"], cwd=ROOT, capture_output=True, text=True,
                             check=False)  # fmt: skip
    # THEN help lists every subcommand and the exit codes; a usage error exits 2
    assert helped.returncode == OK
    for command in ("train", "status", "invoke", "transform", "logs", "promote", "smoke"):
        assert command in helped.stdout
    assert "exit codes" in helped.stdout
    assert misused.returncode == USAGE
