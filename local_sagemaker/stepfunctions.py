"""The SageMaker service integrations of Step Functions, for moto's interpreter.

moto executes state machines (config `stepfunctions.execute_state_machine`) but lists `sagemaker`
among the services it only forwards, without `.sync`. This integration forwards the call to the
SageMaker API (moto, with the local runner behind it) and, for the `.sync` jobs of SYNC_JOBS
(training, transform, processing, hyperparameter tuning), polls the Describe call as Step Functions
does: the task's output is the job's description; a Failed or Stopped job fails the task with
`States.TaskFailed` and the description as the cause.

Any other `sagemaker:<action>.sync` is not carried out: the state machine is created (as AWS creates
it), and an execution reaching the state fails with `NOT_EMULATED_ERROR`, the cause naming the
integration and the ones that are carried out. No Create call is made.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Final

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory as factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported import (
    StateTaskServiceUnsupported,
)
from moto.stepfunctions.parser.asl.component.state.fail import state_fail
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

# API action (as the resource ARN spells it) -> (Describe call, name parameter, status field).
SYNC_JOBS: Final[dict[str, tuple[str, str, str]]] = {
    "createTrainingJob": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "createTransformJob": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "createProcessingJob": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "createHyperParameterTuningJob": (
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
}
SUCCEEDED, FAILED = "Completed", ("Failed", "Stopped")
NOT_EMULATED_ERROR: Final = "LocalSageMaker.IntegrationNotEmulated"


def not_emulated_cause(resource: str) -> str:
    """The cause of an execution that reaches a `.sync` integration the runner does not carry out."""
    carried_out = ", ".join(f"sagemaker:{action}.sync" for action in SYNC_JOBS)
    return f"{resource} is not carried out by the local SageMaker (it carries out {carried_out})"


def _epoch_millis(value: Any) -> Any:
    """Step Functions hands timestamps of a service's answer on as epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


class StateTaskServiceSageMaker(StateTaskServiceUnsupported):
    """`arn:aws:states:::sagemaker:<action>[.sync]`: request-response, and `.sync` for the jobs of SYNC_JOBS."""

    def __init__(self) -> None:
        StateTaskServiceCallback.__init__(
            self,
            supported_integration_patterns={
                ResourceCondition(ResourceCondition.WaitForTaskToken),
                ResourceCondition(ResourceCondition.Sync),
            },
        )

    def _validate_service_integration_is_supported(self) -> None:
        """Any SageMaker action may be in a definition; what is not carried out fails when reached."""

    def _carried_out(self) -> bool:
        return self.resource.condition != ResourceCondition.Sync or self.resource.api_action in SYNC_JOBS

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any],
                           state_credentials: Any) -> None:  # fmt: skip
        if not self._carried_out():
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=CustomErrorName(NOT_EMULATED_ERROR),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=NOT_EMULATED_ERROR,
                            cause=not_emulated_cause(self.resource.resource_arn),
                        )
                    ),
                )
            )
        super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.append(_epoch_millis(env.stack.pop()))

    def _build_sync_resolver(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> Callable[[], Any]:
        env.stack.pop()  # the Create call's answer: the job's ARN
        describe, name_parameter, status_field = SYNC_JOBS[self.resource.api_action]
        name = normalised_parameters[name_parameter]
        client = boto_client_for(
            service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
        )

        def resolve() -> Any:
            described = getattr(client, describe)(**{name_parameter: name})
            described.pop("ResponseMetadata", None)
            status = described[status_field]
            if status == SUCCEEDED:
                return _epoch_millis(described)
            if status in FAILED:
                error = StatesErrorNameType.StatesTaskFailed
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=error),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(  # type: ignore[typeddict-item]
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=error.to_name(),
                                cause=to_json_str(_epoch_millis(described)),
                            )
                        ),
                    )
                )
            return None

        return resolve


class RethrownErrorName(ErrorName):
    """A Fail state's error from `ErrorPath` may be any name, `States.TaskFailed` too (rethrowing a caught error)."""


def install() -> None:
    """Make moto's interpreter build this integration for every `sagemaker:` task state.

    Also: a Fail state whose `ErrorPath` yields a `States.*` name (the pipeline's `<stage>Failed`
    states rethrow the caught error) fails the execution with it; moto raised ValueError instead.
    """
    state_fail.CustomErrorName = RethrownErrorName  # type: ignore[attr-defined,assignment]
    original = factory.state_task_service_for  # type: ignore[attr-defined]
    if getattr(original, "local_sagemaker", False):
        return

    def state_task_service_for(service_name: str) -> Any:
        return StateTaskServiceSageMaker() if service_name == "sagemaker" else original(service_name)

    state_task_service_for.local_sagemaker = True  # type: ignore[attr-defined]
    factory.state_task_service_for = state_task_service_for  # type: ignore[attr-defined]
