"""The local SageMaker's gaps: listed once, complete against the API's model, documented as listed."""

from __future__ import annotations

import re

import botocore.session
import pytest

from local_sagemaker import (
    async_endpoints,
    components,
    endpoints,
    not_emulated,
    processing,
    training,
    transform,
    tuning,
)
from tests.conftest import ROOT

DEMO_DOC = ROOT / "docs" / "demo.md"
APIS = {
    not_emulated.TRAINING: ("sagemaker", training.HANDLED_FIELDS),
    not_emulated.TRANSFORM: ("sagemaker", transform.HANDLED_FIELDS),
    not_emulated.PROCESSING: ("sagemaker", processing.HANDLED_FIELDS),
    not_emulated.TUNING: ("sagemaker", tuning.HANDLED_FIELDS),
    not_emulated.INVOKE: ("sagemaker-runtime", endpoints.HANDLED_FIELDS),
    not_emulated.COMPONENT: ("sagemaker", components.HANDLED_FIELDS),
    not_emulated.INVOKE_ASYNC: ("sagemaker-runtime", async_endpoints.HANDLED_FIELDS),
}


@pytest.mark.parametrize("api", sorted(APIS))
def test_every_request_member_is_either_emulated_or_listed_as_not_emulated(api: str) -> None:
    # GIVEN botocore's model of the API's request WHEN compared with what the runner handles and the table lists
    service, handled = APIS[api]
    members = set(botocore.session.get_session().get_service_model(service).operation_model(api).input_shape.members)
    listed = not_emulated.members(api)
    # THEN each member is in exactly one of them, and neither names a member the API does not have
    assert not handled & listed, f"{api}: both handled and listed as not emulated: {sorted(handled & listed)}"
    missing, unknown = sorted(members - handled - listed), sorted((handled | listed) - members)
    assert members == handled | listed, f"{api}: not accounted for: {missing}; unknown: {unknown}"


def test_the_demo_document_shows_exactly_the_table_of_the_code() -> None:
    # GIVEN the table generated from not_emulated.py WHEN docs/demo.md is read THEN it holds it verbatim
    assert not_emulated.markdown_table() in DEMO_DOC.read_text(), (
        "update docs/demo.md's table from local_sagemaker.not_emulated.markdown_table()"
    )


def test_the_table_names_exactly_the_sync_integrations_the_runner_carries_out() -> None:
    # GIVEN the integrations local_sagemaker/stepfunctions.py carries out WHEN the table's row on the others is read
    from local_sagemaker import stepfunctions  # noqa: PLC0415 - moto's interpreter, only for this test

    (row,) = [r for r in not_emulated.NOT_EMULATED if r.api == not_emulated.STATES and r.subject.startswith("`.sync`")]
    named = set(re.findall(r"`sagemaker:(\w+)\.sync`", row.subject))
    # THEN it names every one of them, no other, and the error an execution fails with
    assert named == set(stepfunctions.SYNC_JOBS)
    assert f"`{stepfunctions.NOT_EMULATED_ERROR}`" in row.instead
