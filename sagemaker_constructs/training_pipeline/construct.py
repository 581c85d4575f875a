"""The training pipeline: a Step Functions state machine that trains, checks, scores and reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from config.contract import INPUT_DATA_PREFIX, TRAINING_PIPELINE_STATE_MACHINE, state_machine_log_group_name
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.model_registry import ModelRegistry
from sagemaker_constructs.state_machines import (
    logged_state_machine,
    starter_role,
    state_machine_role,
)
from sagemaker_constructs.training_pipeline import outcomes, registration, scoring, states, tuning
from sagemaker_constructs.training_pipeline.options import (
    QualityGate,
    TrainingJobOptions,
    TransformJobOptions,
    metric_definitions_problems,
    name_prefix_problems,
    quality_gate_problems,
    training_problems,
    transform_problems,
)
from sagemaker_constructs.training_pipeline.policy import pipeline_policy
from sagemaker_constructs.training_pipeline.tuning import TuningOptions, tuning_problems
from sagemaker_constructs.validation import invalid, raise_if_any


class TrainingPipeline(Construct):
    """A STANDARD Step Functions state machine: train → (evaluate) → (register) → create model → batch transform →
    notify.

    - **Train** (`createTrainingJob.sync`): the algorithm image, channels `train` and `validation` from
      `s3://<data>/<data_prefix>/train/` and `.../validation/` (CSV, label first), the container's
      `metric_definitions`, volume and output encrypted with the key, inter-container encryption on, and, with
      `TrainingJobOptions.max_wait`, managed spot training with checkpoints in `s3://<artifacts>/checkpoints/<job>/`.
      A CustomState, because CDK's `SageMakerCreateTrainingJob` has no spot or checkpoint properties.
    - **Evaluate** (with `quality_gate`): the job's final metric against the threshold.
    - **Lineage → WriteMetrics → Register** (with `model_registry`): the model that passed the gate becomes a
      version of the group (`registration.py`: artifact, image, training job, data, commit, hyperparameters, the
      final metrics as its model quality statistics, the key), awaiting approval unless `auto_approve`; the
      report names it (`model_package`).
    - **CreateModel** (CDK's `SageMakerCreateModel`): the trained artifact, or the approved version
      `transform.model_package_arn` (where versions await approval: `scoring.py`), network isolation on.
    - **Score** (`createTransformJob.sync`): every CSV line under `s3://<data>/<score_prefix>/`
      (default `<data_prefix>/score/`), MultiRecord batches of at most `max_payload_mb`, each
      output line the input line joined with its prediction, encrypted with the key. A CustomState,
      because `SageMakerCreateTransformJob` has no `DataProcessing` (JoinSource).
    - **Notify**: the report to `notification_topic`; the execution's output is that report.
    Every failure notifies the topic too and ends in a named Fail state with SageMaker's error and
    cause (for a job, its description, whose `FailureReason` says why).

    Jobs, models and transform jobs are named `<name_prefix>-<execution name>` and tagged with
    `tags`, `Commit` (from the input) and `PipelineExecution`. The state machine's role (`role`,
    policy `policy`) may create, describe, stop and tag only those, pass only the execution role (to SageMaker),
    publish only to the topic, register versions only with the status Register gives them; it never reads the
    buckets, and writes only the final metrics' documents there (with `model_registry`, through `metrics_policy`).
    It logs ALL events with execution data to `log_group` and traces with X-Ray.

    :param name_prefix: `<app>-<env>`; lowercase letters, digits and '-', short enough that a
        generated execution name (36 characters) still fits SageMaker's 63-character names.
    :param encryption_key: what the jobs write (volumes, outputs, registered versions) is encrypted with; an
        argument of its own, as the jobs' data is not the log's.
    :param metric_definitions: SageMaker MetricDefinitions (`Name`, `Regex`), at most 40.
    :param logs: the key, retention and removal policy of the state machine's log group (`log_group`).
    :param tags: tags of every job and model (e.g. Environment, Project). @default none.
    :param tuning: a hyperparameter tuning job the execution's input may run in place of the single
        training job (`tuning.py`, docs/tuning.md): then ChooseTraining picks NameTuningJob → Tune
        (`createHyperParameterTuningJob.sync`, named `<name_prefix>-<hash of the execution name>`, 32
        characters) → DescribeBestTrainingJob, and the report names the tuning job, its best job, the
        objective value and the tuned hyperparameters. @default none (the state machine has no tuning states).
    :param model_registry: the group every model that passes the quality gate is registered in. @default none.
    :param auto_approve: register versions Approved instead of PendingManualApproval (dev only, by configuration).
        @default False.
    :param metrics_policy: with `model_registry`, the policy that lets the role put the final metrics' documents in
        the artifacts bucket (`policy.final_metrics_policy`, made in the bucket's stack), which the role attaches.
        @default none.
    :param scoring: whether a run scores at all (CreateModel, Score); an environment whose versions await approval
        and that serves none yet has no approved model to score with. @default True.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        image_uri: str,
        execution_role: SageMakerExecutionRole,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        notification_topic: sns.ITopic,
        metric_definitions: Sequence[Mapping[str, str]],
        training: TrainingJobOptions,
        transform: TransformJobOptions,
        logs: LogSettings,
        quality_gate: QualityGate | None = None,
        tags: Mapping[str, str] | None = None,
        tuning: TuningOptions | None = None,
        model_registry: ModelRegistry | None = None,
        auto_approve: bool = False,
        metrics_policy: iam.IManagedPolicy | None = None,
        scoring: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        errors = name_prefix_problems(name_prefix) + metric_definitions_problems(metric_definitions)
        errors += training_problems(training) + transform_problems(transform)
        errors += quality_gate_problems(quality_gate, metric_definitions)
        if tuning is not None:
            errors += tuning_problems(tuning, name_prefix=name_prefix, metric_definitions=metric_definitions)
        if auto_approve and model_registry is None:
            errors.append("auto_approve needs a model_registry to register approved versions in")
        if (model_registry is None) != (metrics_policy is None):
            errors.append("model_registry and metrics_policy go together: WriteMetrics puts a version's metrics first")
        raise_if_any(self, errors)
        self.name_prefix = name_prefix
        self.metric_definitions = [dict(d) for d in metric_definitions]
        self._data_bucket = data_bucket
        self._artifacts_bucket = artifacts_bucket
        self._key = encryption_key
        self._execution_role = execution_role
        self._tags = dict(tags or {})
        self.tuning = tuning
        self.model_registry = model_registry
        self.approval_status = registration.approval_status(auto_approve)
        self.scoring = scoring

        self.role = state_machine_role(
            self, "Role", description=f"Runs the {name_prefix} training pipeline: SageMaker jobs named {name_prefix}-*"
        )
        # A call alike in shape only to the platform stack's AlgorithmImage(...) (duplicates pairs them).
        self.policy = pipeline_policy(
            self,
            "Policy",
            name_prefix=name_prefix,
            role=self.role,
            execution_role=execution_role,
            encryption_key=encryption_key,
            topic=notification_topic,
            tuning=tuning is not None,
            model_registry=model_registry,
            registered_as=self.approval_status,
        )
        if metrics_policy is not None:
            self.role.add_managed_policy(metrics_policy)

        definition = self._definition(training, transform, quality_gate, image_uri, notification_topic)
        self.state_machine, self.log_group = logged_state_machine(
            self,
            "StateMachine",
            definition=definition,
            role=self.role,
            policy=self.policy,
            log_group_name=state_machine_log_group_name(name_prefix, TRAINING_PIPELINE_STATE_MACHINE),
            logs=logs,
            comment=f"{name_prefix}: train, evaluate, create model, batch transform, notify",
        )

    # ----- helpers an application uses --------------------------------------------------------------

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` start executions of the pipeline (and read how they went)."""
        start = self.state_machine.grant_start_execution(grantee)
        self.state_machine.grant_read(grantee)
        return start

    def add_schedule(
        self, id_: str, *, schedule: events.Schedule, execution_input: Mapping[str, Any], enabled: bool = True
    ) -> events.Rule:
        """An EventBridge rule that starts the pipeline with `execution_input` on `schedule`."""
        if INPUT_DATA_PREFIX not in execution_input:
            raise invalid(self, [f"execution_input must name {INPUT_DATA_PREFIX!r}, the key prefix of the data to use"])
        rule = events.Rule(
            self,
            id_,
            schedule=schedule,
            enabled=enabled,
            description=f"Starts the {self.name_prefix} training pipeline (periodic batch scoring)",
        )
        role = starter_role(
            self,
            id_,
            service="events.amazonaws.com",
            state_machine=self.state_machine,
            description=f"Lets EventBridge start the {self.name_prefix} training pipeline",
        )
        rule.add_target(
            targets.SfnStateMachine(
                self.state_machine, input=events.RuleTargetInput.from_object(dict(execution_input)), role=role
            )
        )
        return rule

    def metric_failed(self, **kwargs: Any) -> Any:
        """Executions that failed (Sum), e.g. for an alarm."""
        return self.state_machine.metric_failed(**kwargs)

    def metric_succeeded(self, **kwargs: Any) -> Any:
        """Executions that succeeded (Sum)."""
        return self.state_machine.metric_succeeded(**kwargs)

    # ----- the definition ---------------------------------------------------------------------------

    def _definition(
        self,
        training: TrainingJobOptions,
        transform: TransformJobOptions,
        quality_gate: QualityGate | None,
        image_uri: str,
        topic: sns.ITopic,
    ) -> sfn.IChainable:
        options = self.tuning
        default_parameters = states.defaults(training, transform)
        merge_parameters = states.merge_input(training)
        prepare_parameters = states.prepare(self.name_prefix, self._tags)
        report_parameters = states.report(self.name_prefix, self._tags, self._artifacts_bucket.bucket_name)
        valid_input = states.valid_input()
        cause = states.INVALID_INPUT_CAUSE
        if options is not None:
            default_parameters["defaults"].update(tuning.defaults(options))
            merge_parameters.update(tuning.configured_ranges(options))
            prepare_parameters.update(tuning.prepare())
            report_parameters.update(tuning.report())
            selector = options.metric_hyperparameter
            metric = training.hyperparameters.get(selector) if selector is not None else None
            valid_input = sfn.Condition.and_(
                valid_input, tuning.valid_input(options, name_prefix=self.name_prefix, tuned_metric=metric)
            )
            cause += tuning.INVALID_TUNING_CAUSE
        if self.model_registry is not None:
            report_parameters["model_package.$"] = "$.package.ModelPackageArn"
        if self.scoring:
            report_parameters.update(scoring.report(transform))
        defaults = sfn.Pass(
            self,
            "ApplyDefaults",
            comment="Defaults from the configuration; the input overrides them",
            parameters=default_parameters,
        )
        invalid = sfn.Fail(self, "InvalidInput", error="InvalidInput", cause=cause)
        merge = sfn.Pass(
            self,
            "MergeInput",
            parameters=merge_parameters,
        )
        prepare = sfn.Pass(
            self,
            "Prepare",
            comment="Hyperparameters: the configuration's, overridden by the input's; names from the execution",
            parameters=prepare_parameters,
        )
        train = self._training_state(training, image_uri)
        report = sfn.Pass(
            self,
            "Report",
            parameters=report_parameters,
            result_path="$.report",
        )
        notify = tasks.SnsPublish(
            self,
            "NotifySucceeded",
            topic=topic,
            subject=f"{self.name_prefix}: training pipeline succeeded",
            message=sfn.TaskInput.from_json_path_at("$.report"),
            result_path=sfn.JsonPath.DISCARD,
            output_path="$.report",
        )

        stages: list[tuple[str, list[sfn.TaskStateBase | sfn.CustomState]]] = [("Training", [train])]
        passed: sfn.IChainable = report
        if self.scoring:
            create_model, score = scoring.scoring_states(
                self,
                transform,
                image_uri=image_uri,
                role=self._execution_role.role.without_policy_updates(),
                partition=cdk.Stack.of(self).partition,
                key_arn=self._key.key_arn,
                data_bucket=self._data_bucket.bucket_name,
                artifacts_bucket=self._artifacts_bucket.bucket_name,
            )
            stages += [("ModelCreation", [create_model]), ("Transform", [score])]
            create_model.next(score)
            score.next(report)
            passed = create_model
        if self.model_registry is not None:
            write_metrics, register = self._registration_states(self.model_registry, image_uri)
            stages.append(("Registration", [write_metrics, register]))
            passed = sfn.Pass(
                self,
                "Lineage",
                comment="What the version records besides the hyperparameters, and where its metrics go",
                parameters=registration.lineage(self._data_bucket.bucket_name),
                result_path="$.lineage",
            ).next(write_metrics.next(register.next(passed)))
        for stage, stage_states in stages:
            failed = outcomes.failure(self, self.name_prefix, stage, topic)
            for state in stage_states:
                state.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.error")

        after_training = passed
        if quality_gate is not None:
            after_training = outcomes.quality_gate(self, self.name_prefix, quality_gate, topic, passed)
        report.next(notify)
        train.next(after_training)
        first: sfn.IChainable = train
        if options is not None:
            first = self._tuning_states(options, train, after_training, topic)
        return defaults.next(
            sfn.Choice(self, "CheckInput").when(valid_input, merge.next(prepare).next(first)).otherwise(invalid)
        )

    def _tuning_states(
        self, options: TuningOptions, train: sfn.CustomState, then: sfn.IChainable, topic: sns.ITopic
    ) -> sfn.IChainable:
        """ChooseTraining: the single job, or NameTuningJob → Tune → DescribeBestTrainingJob → `then`."""
        partition = cdk.Stack.of(self).partition
        single = self._training_json
        failed = outcomes.failure(self, self.name_prefix, "Tuning", topic)
        describe = sfn.CustomState(self, "DescribeBestTrainingJob", state_json=tuning.describe_best_job(partition))
        describe.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.error")
        describe.next(then)
        tune_states = []
        for warm in (False, True) if options.warm_start else (False,):
            state_json = tuning.tuning_job(options, single, partition=partition, warm_start=warm)
            tune = sfn.CustomState(self, "TuneWarmStarted" if warm else "Tune", state_json=state_json)
            tune.add_catch(failed, errors=[sfn.Errors.ALL], result_path="$.error")
            tune.next(describe)
            tune_states.append(tune)
        run: sfn.IChainable = tune_states[0]
        if len(tune_states) == 2:
            run = sfn.Choice(self, "ChooseWarmStart").when(tuning.warm_started(), tune_states[1]).otherwise(run)
        name = sfn.CustomState(self, "NameTuningJob", state_json=tuning.name_tuning_job(self.name_prefix))
        return sfn.Choice(self, "ChooseTraining").when(tuning.tuned(), name.next(run)).otherwise(train)

    def _training_state(self, training: TrainingJobOptions, image_uri: str) -> sfn.CustomState:
        state_json = states.training_job(
            training,
            partition=cdk.Stack.of(self).partition,
            image_uri=image_uri,
            role_arn=self._execution_role.role.role_arn,
            key_arn=self._key.key_arn,
            data_bucket=self._data_bucket.bucket_name,
            artifacts_bucket=self._artifacts_bucket.bucket_name,
            metric_definitions=self.metric_definitions,
        )
        # A tuning job defines its training jobs like this one.
        self._training_json = state_json
        return sfn.CustomState(self, "Train", state_json=state_json)

    def _registration_states(self, registry: ModelRegistry, image_uri: str) -> tuple[sfn.CustomState, sfn.CustomState]:
        """WriteMetrics (the final metrics' document) and Register (the version that names it)."""
        partition, bucket = cdk.Stack.of(self).partition, self._artifacts_bucket.bucket_name
        write = registration.write_metrics(partition=partition, artifacts_bucket=bucket, key_arn=self._key.key_arn)
        state_json = registration.register(
            partition=partition,
            group_name=registry.group_name,
            image_uri=image_uri,
            key_arn=self._key.key_arn,
            approval_status=self.approval_status,
            artifacts_bucket=bucket,
        )
        register = sfn.CustomState(self, "Register", state_json=state_json)
        return sfn.CustomState(self, "WriteMetrics", state_json=write), register
