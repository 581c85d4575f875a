"""States that end a run early: the quality gate's rejection and each stage's failure, both notified."""

from __future__ import annotations

from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from sagemaker_constructs.training_pipeline.options import QualityGate


def quality_gate(
    scope: Construct, name_prefix: str, gate: QualityGate, topic: sns.ITopic, then: sfn.IChainable
) -> sfn.IChainable:
    """Evaluate: the job's final `gate.metric` against the threshold; a rejected model notifies and fails."""
    read = sfn.Pass(
        scope,
        "Evaluate",
        comment=f"The training job's final {gate.metric}",
        parameters={"values.$": f"$.training.FinalMetricDataList[?(@.MetricName == '{gate.metric}')].Value"},
        result_path="$.evaluation",
    )
    value = "$.evaluation.values[0]"
    meets = (
        sfn.Condition.number_greater_than_equals(value, gate.threshold)
        if gate.higher_is_better
        else sfn.Condition.number_less_than_equals(value, gate.threshold)
    )
    comparison = ">=" if gate.higher_is_better else "<="
    rejected = tasks.SnsPublish(
        scope,
        "NotifyModelRejected",
        topic=topic,
        subject=f"{name_prefix}: model rejected by the quality gate",
        message=sfn.TaskInput.from_object(
            {
                "execution.$": "$$.Execution.Id",
                "training_job.$": "$.training.TrainingJobName",
                "gate": f"{gate.metric} {comparison} {gate.threshold}",
                "values.$": "$.evaluation.values",
            }
        ),
        result_path=sfn.JsonPath.DISCARD,
    ).next(
        sfn.Fail(
            scope,
            "ModelRejected",
            error="ModelRejected",
            cause=f"The training job's final {gate.metric} does not meet {comparison} {gate.threshold}, "
            "or the job did not report it; no model was created",
        )
    )
    return read.next(
        sfn.Choice(scope, "MeetsQualityGate")
        .when(sfn.Condition.and_(sfn.Condition.is_present(value), meets), then)
        .otherwise(rejected)
    )


def failure(scope: Construct, name_prefix: str, stage: str, topic: sns.ITopic) -> sfn.IChainable:
    """A notification to `topic`, then a Fail state with the error and cause of the `stage` that failed."""
    failed = sfn.Fail(scope, f"{stage}Failed", error_path="$.error.Error", cause_path="$.error.Cause")
    notify = tasks.SnsPublish(
        scope,
        f"Notify{stage}Failed",
        topic=topic,
        subject=f"{name_prefix}: training pipeline failed ({stage})",
        message=sfn.TaskInput.from_object(
            {
                "execution.$": "$$.Execution.Id",
                "stage": stage,
                "error.$": "$.error.Error",
                "cause.$": "$.error.Cause",
            }
        ),
        result_path=sfn.JsonPath.DISCARD,
    )
    # The pipeline's failure must surface even if the notification cannot be sent.
    notify.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.notification_error")
    return notify.next(failed)
