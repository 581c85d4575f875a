"""Each kind of change between two small templates, as the review reports it and as the policy rules.

Every case is a GIVEN (a base and a head app, with acknowledgments) registered in CASES; the module
reviews them all in one run of the diff library (it takes about a second to load), and each test
checks its case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from review.diff import Comparison, review_many
from review.model import Change, ResourceChange, Review, Templates, Verdict
from review.policy import Acknowledgment, AcknowledgmentError, load_acknowledgments
from review.report import NOTHING, to_json, to_markdown
from tests.review.builders import (
    EVERYTHING_IN_S3,
    READ_DATA,
    Template,
    app,
    bucket,
    database,
    inference,
    policy,
    queue,
    role,
    security_group,
    template,
    topic,
)

CASES: dict[str, Comparison] = {}


def case(name: str, base: Templates, head: Templates, *acknowledgments: Acknowledgment) -> str:
    CASES[name] = Comparison(base, head, acknowledgments)
    return name


def stack_case(
    name: str,
    base: Template,
    head: Template,
    *acknowledgments: Acknowledgment,
    environment: str = "Prod",
    stack: str = "Platform",
) -> str:
    """A case of one stack in one environment (the most common), its template before and after."""
    return case(name, app(environment, stack, base), app(environment, stack, head), *acknowledgments)


@pytest.fixture(scope="module")
def reviewed() -> dict[str, Review]:
    """WHEN every case is reviewed (one library run for the module)."""
    return dict(zip(CASES, review_many(list(CASES.values())), strict=True))


def _only_stack(review: Review) -> dict[str, ResourceChange]:
    assert len(review.stacks) == 1
    return {resource.logical_id: resource for resource in review.stacks[0].resources}


def _acknowledge(resource: str, *, environment: str = "Prod", change: str = "replace") -> Acknowledgment:
    return Acknowledgment(
        environment=environment,
        stack="Platform",
        resource=resource,
        change=change,  # type: ignore[arg-type]  # pydantic parses the string, as from the TOML file
        reason="Renamed before go-live; the bucket holds no data yet.",
    )


# GIVEN a prod stack with a bucket, and a head that adds a topic
ADDED = stack_case(
    "added",
    template(Data=bucket(retain=True)),
    template(Data=bucket(retain=True), Alarms=topic()),
)


def test_an_added_resource_is_reported_and_allowed(reviewed: dict[str, Review]) -> None:
    review = reviewed[ADDED]
    # THEN the topic is added, and nothing blocks the change
    changes = _only_stack(review)
    assert list(changes) == ["Alarms"]
    assert changes["Alarms"].change is Change.ADDED
    assert review.stacks[0].count(Change.ADDED) == 1
    assert not review.blocked


# GIVEN a prod queue without a DeletionPolicy, which the head no longer has
REMOVED = stack_case(
    "removed",
    template(Jobs=queue(), Data=bucket(retain=True)),
    template(Data=bucket(retain=True)),
)


def test_removing_a_stateful_resource_without_retain_is_blocked_in_prod(reviewed: dict[str, Review]) -> None:
    review = reviewed[REMOVED]
    # THEN the queue is deleted: a violation, shown as such
    jobs = _only_stack(review)["Jobs"]
    assert (jobs.change, jobs.stateful, jobs.verdict) == (Change.REMOVED, True, Verdict.BLOCKED)
    assert "| ❌ | `Jobs`" in to_markdown(review)


# GIVEN the prod data bucket (retained, named by CloudFormation) whose construct is renamed in the head:
# the old logical id leaves the template and a new, empty bucket takes its place
ORPHANED = stack_case(
    "orphaned",
    template(DataBucketE6B0FAA8=bucket(retain=True), Logs=bucket(retain=True)),
    template(StoreBucket1C2D3E4F=bucket(retain=True), Logs=bucket(retain=True)),
)


def test_orphaning_a_stateful_resource_in_prod_is_blocked_and_says_where_it_stays(
    reviewed: dict[str, Review],
) -> None:
    review = reviewed[ORPHANED]
    # THEN the old bucket is orphaned, and blocked like a replacement
    resources = _only_stack(review)
    old = resources["DataBucketE6B0FAA8"]
    assert (old.change, old.verdict) == (Change.ORPHANED, Verdict.BLOCKED)
    assert resources["StoreBucket1C2D3E4F"].change is Change.ADDED
    assert [resource.logical_id for _, resource in review.blocked] == ["DataBucketE6B0FAA8"]
    # AND the report says where the old one still lives: no physical name in the template, so its
    # logical id and stack, kept by CloudFormation, and how to find its name before deploying
    markdown = to_markdown(review)
    assert "❌ 1 stateful resource change(s) need an acknowledgment: Prod/DataBucketE6B0FAA8." in markdown
    assert "| ❌ | `DataBucketE6B0FAA8` | AWS::S3::Bucket | **orphaned** |" in markdown
    assert "`DataBucketE6B0FAA8` of stack `Prod-Platform` stays in the account: CloudFormation keeps it" in markdown
    assert "the stack adds `StoreBucket1C2D3E4F` of the same type, new and empty" in markdown
    assert "--stack-name Prod-Platform --logical-resource-id DataBucketE6B0FAA8" in markdown
    assert 'acknowledge with change = "orphan"' in markdown
    assert "| ❌ `Prod-Platform` | 1 | 0 | 1 | 0 | 0 |" in markdown


# GIVEN a retained prod bucket with a physical name, removed from the head
ORPHANED_NAMED = stack_case(
    "orphaned with a name",
    template(Data=bucket(name="gbdt-data-prod", retain=True)),
    template(),
)


def test_an_orphaned_resource_with_a_physical_name_is_named(reviewed: dict[str, Review]) -> None:
    review = reviewed[ORPHANED_NAMED]
    # THEN the report names the bucket that stays in the account
    data = _only_stack(review)["Data"]
    assert (data.change, data.verdict) == (Change.ORPHANED, Verdict.BLOCKED)
    assert data.still_at is not None
    assert "AWS::S3::Bucket `gbdt-data-prod` (BucketName) stays in the account" in to_markdown(review)
    assert "the stack adds" not in to_markdown(review)


# GIVEN the same orphaning, acknowledged with change "orphan"; and once with "delete" and "replace" only
ORPHAN_ACKNOWLEDGED = stack_case(
    "orphan acknowledged",
    template(Data=bucket(name="gbdt-data-prod", retain=True)),
    template(),
    _acknowledge("Data", change="orphan"),
)
ORPHAN_OTHER_ACKNOWLEDGMENTS = stack_case(
    "orphan acknowledged as something else",
    template(Data=bucket(name="gbdt-data-prod", retain=True)),
    template(),
    _acknowledge("Data", change="delete"),
    _acknowledge("Data", change="replace"),
)


def test_an_acknowledged_orphan_is_allowed_and_only_by_an_orphan_entry(reviewed: dict[str, Review]) -> None:
    # THEN the "orphan" entry acknowledges it, with its reason in the report
    data = _only_stack(reviewed[ORPHAN_ACKNOWLEDGED])["Data"]
    assert (data.change, data.verdict) == (Change.ORPHANED, Verdict.ACKNOWLEDGED)
    assert not reviewed[ORPHAN_ACKNOWLEDGED].blocked
    assert "acknowledged: Renamed before go-live" in to_markdown(reviewed[ORPHAN_ACKNOWLEDGED])
    # AND entries for a deletion or a replacement of it do not
    other = reviewed[ORPHAN_OTHER_ACKNOWLEDGMENTS]
    assert [resource.logical_id for _, resource in other.blocked] == ["Data"]
    assert len(other.unused_acknowledgments) == 2


# GIVEN a retained bucket orphaned in dev, and a retained role (not stateful) orphaned in prod
ORPHANED_IN_DEV = stack_case(
    "orphaned in dev",
    template(Data=bucket(retain=True)),
    template(),
    environment="Dev",
)
ORPHANED_ROLE = stack_case(
    "orphaned role",
    template(Role=role() | {"DeletionPolicy": "Retain"}),
    template(),
)


def test_orphaning_is_reported_in_dev_and_allowed_for_stateless_resources(reviewed: dict[str, Review]) -> None:
    # THEN dev reports it without blocking, and a stateless resource is simply orphaned
    data = _only_stack(reviewed[ORPHANED_IN_DEV])["Data"]
    assert (data.change, data.verdict) == (Change.ORPHANED, Verdict.NOT_ENFORCED)
    assert "stays in the account" in to_markdown(reviewed[ORPHANED_IN_DEV])
    role_change = _only_stack(reviewed[ORPHANED_ROLE])["Role"]
    assert (role_change.change, role_change.verdict) == (Change.ORPHANED, Verdict.ALLOWED)
    assert not reviewed[ORPHANED_ROLE].blocked


# GIVEN a prod bucket whose versioning is suspended in the head
IN_PLACE = stack_case(
    "in place",
    template(Data=bucket(retain=True)),
    template(Data=bucket(retain=True, versioned=False)),
)


def test_an_in_place_update_of_a_stateful_resource_is_allowed(reviewed: dict[str, Review]) -> None:
    review = reviewed[IN_PLACE]
    # THEN CloudFormation updates the bucket in place, by its specification
    data = _only_stack(review)["Data"]
    assert (data.change, data.verdict) == (Change.IN_PLACE, Verdict.ALLOWED)
    assert [(p.name, p.change) for p in data.properties] == [("VersioningConfiguration", Change.IN_PLACE)]
    assert not review.blocked


# GIVEN a bucket whose BucketName changes, in each enforced environment (named as the stages are, or not)
RENAMED = {
    environment: stack_case(
        f"renamed in {environment}",
        template(Data=bucket(name="gbdt-data", retain=True)),
        template(Data=bucket(name="gbdt-data-v2", retain=True)),
        environment=environment,
    )
    for environment in ("Prod", "Staging", "staging")
}


# GIVEN one resource changed in one stack: the prod endpoint renamed, a prod database whose StorageType changes
# (CloudFormation: replacement "conditionally", labelled "may replace" and blocked to be safe), the same bucket
# rename as above in dev (a replacement, flagged, but the policy does not apply in dev).
ONE_CHANGE = [
    (
        stack_case(
            "endpoint renamed",
            inference(model_data_url="s3://artifacts/v1/model.tar.gz"),
            inference(model_data_url="s3://artifacts/v1/model.tar.gz", endpoint_name="new"),
            stack="Inference",
        ),
        "Endpoint",
        (Change.REPLACED, Verdict.BLOCKED),
        None,
    ),
    (
        stack_case(
            "may replace",
            template(Db=database(storage_type="gp2")),
            template(Db=database(storage_type="gp3")),
        ),
        "Db",
        (Change.MAY_REPLACE, Verdict.BLOCKED),
        "**may replace**",
    ),
    (
        stack_case(
            "renamed in dev",
            template(Data=bucket(name="gbdt-data")),
            template(Data=bucket(name="gbdt-data-v2")),
            environment="Dev",
        ),
        "Data",
        (Change.REPLACED, Verdict.NOT_ENFORCED),
        "| ⚠ | `Data`",
    ),
]


@pytest.mark.parametrize(("name", "resource", "ruled", "reported"), ONE_CHANGE, ids=[row[0] for row in ONE_CHANGE])
def test_one_changed_resource_is_labelled_and_ruled(
    reviewed: dict[str, Review], name: str, resource: str, ruled: tuple[Change, Verdict], reported: str | None
) -> None:
    review = reviewed[name]
    # THEN the resource's change and the policy's verdict, blocked only where the verdict is, and what the report says
    changed = _only_stack(review)[resource]
    assert (changed.change, changed.verdict) == ruled
    assert bool(review.blocked) == (ruled[1] == Verdict.BLOCKED)
    if reported is not None:
        assert reported in to_markdown(review)


# GIVEN a prod bucket rename, acknowledged by logical id, or by construct path
ACKNOWLEDGED = {
    resource: stack_case(
        f"acknowledged as {resource}",
        template(Data=bucket(name="gbdt-data", retain=True)),
        template(Data=bucket(name="v2", retain=True) | {"Metadata": {"aws:cdk:path": "Prod/Platform/Data/Resource"}}),
        _acknowledge(resource),
    )
    for resource in ("Data", "Prod/Platform/Data/Resource")
}


# The same replacement either way: blocked with what changed, or allowed with the acknowledgment's reason.
RENAMED_VERDICTS = [
    *((name, Verdict.BLOCKED, "`BucketName` (replaced): `gbdt-data` → `gbdt-data-v2`") for name in RENAMED.values()),
    *((name, Verdict.ACKNOWLEDGED, "acknowledged: Renamed before go-live") for name in ACKNOWLEDGED.values()),
]


@pytest.mark.parametrize(("name", "verdict", "reported"), RENAMED_VERDICTS, ids=[row[0] for row in RENAMED_VERDICTS])
def test_a_renamed_bucket_in_staging_or_prod_is_blocked_unless_acknowledged(
    reviewed: dict[str, Review], name: str, verdict: Verdict, reported: str
) -> None:
    review = reviewed[name]
    # THEN the library says BucketName requires replacement, the policy blocks it unless acknowledged, and the
    # report says what changed or quotes the reason
    data = _only_stack(review)["Data"]
    assert (data.change, data.verdict) == (Change.REPLACED, verdict)
    assert [(p.name, p.change) for p in data.properties] == [("BucketName", Change.REPLACED)]
    assert len(review.blocked) == (1 if verdict is Verdict.BLOCKED else 0)
    assert reported in to_markdown(review)
    assert review.unused_acknowledgments == ()


# GIVEN a prod bucket rename, and acknowledgments for staging, and for a deletion
NOT_ACKNOWLEDGED = stack_case(
    "acknowledged elsewhere",
    template(Data=bucket(name="gbdt-data", retain=True)),
    template(Data=bucket(name="gbdt-data-v2", retain=True)),
    _acknowledge("Data", environment="Staging"),
    _acknowledge("Data", change="delete"),
)


def test_an_acknowledgment_for_another_environment_or_change_does_not_apply(reviewed: dict[str, Review]) -> None:
    review = reviewed[NOT_ACKNOWLEDGED]
    # THEN it is still blocked, and both acknowledgments are reported as unused
    assert [resource.logical_id for _, resource in review.blocked] == ["Data"]
    assert len(review.unused_acknowledgments) == 2
    assert "Unused acknowledgment: Staging/Platform/Data (replace)" in to_markdown(review)


# GIVEN a prod role whose policy gains s3:* on every resource
WIDENED = stack_case(
    "iam widened",
    template(Role=role(), Policy=policy(READ_DATA)),
    template(Role=role(), Policy=policy(READ_DATA, EVERYTHING_IN_S3)),
)


def test_widened_iam_permissions_are_flagged_but_not_blocked(reviewed: dict[str, Review]) -> None:
    review = reviewed[WIDENED]
    # THEN the new wildcard statement is reported, flagged in the Markdown, and nothing is blocked
    iam = review.stacks[0].iam
    assert iam.broadened
    assert [(s.action, s.resource, s.wildcard) for s in iam.added] == [("s3:*", "*", True)]
    markdown = to_markdown(review)
    assert "| ⚠ widened |" in markdown
    assert "| ⚠ + | Allow | `s3:*` | `*` |" in markdown
    assert not review.blocked


# GIVEN the reverse change: the wildcard statement is removed
NARROWED = stack_case(
    "iam narrowed",
    template(Role=role(), Policy=policy(READ_DATA, EVERYTHING_IN_S3)),
    template(Role=role(), Policy=policy(READ_DATA)),
)


def test_narrowed_iam_permissions_are_not_flagged_as_widened(reviewed: dict[str, Review]) -> None:
    review = reviewed[NARROWED]
    # THEN the removal is listed, but permissions are not widened
    iam = review.stacks[0].iam
    assert not iam.broadened
    assert [s.action for s in iam.removed] == ["s3:*"]
    assert "⚠" not in to_markdown(review).split("<sub>")[0]


# GIVEN a prod security group that admits 443, and a head that also admits 22; and the reverse
OPENED = stack_case(
    "security group opened", template(Group=security_group(443)), template(Group=security_group(443, 22))
)
CLOSED = stack_case(
    "security group closed", template(Group=security_group(443, 22)), template(Group=security_group(443))
)


def test_an_added_security_group_rule_is_flagged_and_a_removed_one_is_listed(reviewed: dict[str, Review]) -> None:
    # THEN the added rule is flagged in the summary and the details; the removed one is listed, without a flag
    opened, closed = reviewed[OPENED].stacks[0], reviewed[CLOSED].stacks[0]
    assert [(r.direction, r.added, r.peer) for r in opened.security_group_rules] == [
        ("ingress", True, "Everyone (IPv4)")
    ]
    assert opened.security_group_rules_added and not closed.security_group_rules_added
    assert [(r.direction, r.added) for r in closed.security_group_rules] == [("ingress", False)]
    assert "| ⚠ rules added |" in to_markdown(reviewed[OPENED])
    assert json.loads(to_json(reviewed[OPENED], 0))["stacks"][0]["security_group_rules_added"] is True
    assert "| ⚠ + | ingress |" in to_markdown(reviewed[OPENED])
    assert "⚠" not in to_markdown(reviewed[CLOSED]).split("<sub>")[0]
    assert not reviewed[OPENED].blocked


# GIVEN the inference resources, and a head that pins another model artifact
NEW_MODEL = stack_case(
    "new model artifact",
    inference(model_data_url="s3://artifacts/models/v1/model.tar.gz"),
    inference(model_data_url="s3://artifacts/models/v2/model.tar.gz"),
    stack="Inference",
)


def test_a_new_model_artifact_updates_the_endpoint_in_place_with_a_new_endpoint_config(
    reviewed: dict[str, Review],
) -> None:
    review = reviewed[NEW_MODEL]
    # THEN the immutable model and endpoint config are replaced, the endpoint is updated in place to
    # use the new config (not replaced), and the policy allows it
    changes = _only_stack(review)
    assert changes["Model"].change is Change.REPLACED
    assert changes["EndpointConfig"].change is Change.REPLACED
    endpoint = changes["Endpoint"]
    assert (endpoint.change, endpoint.verdict) == (Change.IN_PLACE, Verdict.ALLOWED)
    assert [(p.name, p.change) for p in endpoint.properties] == [("EndpointConfigName", Change.IN_PLACE)]
    assert endpoint.due_to == ("EndpointConfig",)
    assert not review.blocked
    assert "references `EndpointConfig`, which is replaced" in to_markdown(review)


# GIVEN a staging app that gains an Inference stack and loses a Legacy stack holding a queue
STACKS = case(
    "stacks added and removed",
    {"Staging": {"Staging-Platform": template(Data=bucket(retain=True)), "Staging-Legacy": template(Q=queue())}},
    {"Staging": {"Staging-Platform": template(Data=bucket(retain=True)), "Staging-Inference": template(T=topic())}},
)


def test_a_new_stack_and_a_removed_stack_are_diffed_against_nothing(reviewed: dict[str, Review]) -> None:
    review = reviewed[STACKS]
    # THEN each stack has its status, and the queue's deletion is blocked
    assert {stack.stack: stack.status for stack in review.stacks} == {
        "Staging-Inference": "new stack",
        "Staging-Legacy": "stack removed",
        "Staging-Platform": "unchanged",
    }
    assert [(stack.stack, resource.logical_id) for stack, resource in review.blocked] == [("Staging-Legacy", "Q")]


# GIVEN changes in all three environments
ENVIRONMENTS = case(
    "three environments",
    {env: {f"{env}-Platform": template(Data=bucket(name="a"))} for env in ("Prod", "Dev", "Staging")},
    {env: {f"{env}-Platform": template(Data=bucket(name="b"))} for env in ("Prod", "Dev", "Staging")},
)


def test_the_markdown_has_a_summary_table_per_environment_in_promotion_order(reviewed: dict[str, Review]) -> None:
    markdown = to_markdown(reviewed[ENVIRONMENTS])
    # THEN Dev, Staging and Prod each have a summary table, in that order, and then the details
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == ["### Dev", "### Staging", "### Prod", "### Details"]
    assert f"| ❌ `Prod-Platform` | 0 | 0 | 0 | 0 | 1 | {NOTHING} | {NOTHING} |" in markdown
    assert f"| `Dev-Platform` | 0 | 0 | 0 | 0 | 1 | {NOTHING} | {NOTHING} |" in markdown


def test_the_json_report_carries_every_change_and_the_exit_code(reviewed: dict[str, Review]) -> None:
    # GIVEN the blocked prod bucket rename; WHEN it is rendered as JSON
    data = json.loads(to_json(reviewed[RENAMED["Prod"]], 1))
    # THEN the resource, its change and verdict, and the blocked list are there
    resource = data["stacks"][0]["resources"][0]
    assert (resource["logical_id"], resource["change"], resource["verdict"]) == ("Data", "replaced", "blocked")
    assert data["blocked"] == ["Prod/Prod-Platform/Data"]
    assert data["exit_code"] == 1


def test_the_repository_acknowledgment_file_is_valid() -> None:
    # GIVEN the reviewed file in review/; WHEN it is loaded; THEN it validates (or this raises)
    assert isinstance(load_acknowledgments(), tuple)


VALID = 'environment = "Prod"\nstack = "Platform"\nresource = "Data"\n'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (VALID + 'change = "replace"', r"#1: field 'reason': Field required"),
        (VALID + 'change = "rename"\nreason = "a good reason"', r"#1: field 'change': .*'delete' or 'orphan'"),
        (VALID.replace('"Prod"', '""') + 'change = "delete"\nreason = "a good reason"', r"#1: field 'environment'"),
        (VALID + 'change = "delete"\nreason = "a good reason"\nticket = 1', r"#1: field 'ticket': Extra inputs"),
    ],
)
def test_a_bad_acknowledgment_names_the_entry_and_the_field(tmp_path: Path, entry: str, message: str) -> None:
    # GIVEN an acknowledgment file whose entry lacks or mistypes a field
    path = tmp_path / "acknowledgments.toml"
    path.write_text(
        f'[[acknowledgment]]\n{VALID}change = "delete"\nreason = "a good reason"\n\n[[acknowledgment]]\n{entry}\n'
    )
    # WHEN it is loaded; THEN the error names the file, the entry (the second) and the field
    with pytest.raises(AcknowledgmentError, match=message.replace("#1", "#2")) as error:
        load_acknowledgments(path)
    assert str(path) in str(error.value)
