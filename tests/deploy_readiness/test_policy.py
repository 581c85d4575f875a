"""The policy evaluator: IAM's decision order, wildcards, conditions, and what it declines to guess."""

from __future__ import annotations

import pytest

from tests.deploy_readiness.policy import ANY_RESOURCE, Decision, Request, evaluate

ROLE = "arn:aws:iam::123456789012:role/Prod-Platform-Role"
BOUNDARY = "arn:aws:iam::123456789012:policy/boundary"
BOUNDED = {
    "Effect": "Allow",
    "Action": "iam:CreateRole",
    "Resource": "arn:*:iam::*:role/Prod-*",
    "Condition": {"StringLike": {"iam:PermissionsBoundary": "arn:*:iam::${aws:PrincipalAccount}:policy/boundary"}},
}


def test_an_explicit_deny_wins_over_an_allow() -> None:
    statements = [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
    ]
    assert evaluate(statements, Request("iam:DeleteRolePermissionsBoundary", ROLE)) is Decision.DENIED
    assert evaluate(statements, Request("iam:GetRole", ROLE)) is Decision.ALLOWED


def test_actions_match_case_insensitively_with_wildcards_and_not_action_inverts() -> None:
    assert evaluate(
        [{"Effect": "Allow", "Action": "S3:getbucket*", "Resource": "*"}], Request("s3:GetBucketTagging", "*")
    )
    statements = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
    assert evaluate(statements, Request("iam:CreateRole", ROLE)) is Decision.IMPLICIT_DENY
    assert evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::b/k")) is Decision.ALLOWED


def test_resources_match_with_wildcards_only() -> None:
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cdk-[x]-*"}]
    assert evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::cdk-[x]-assets/key")) is Decision.ALLOWED
    assert evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::cdk-x-assets/key")) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("context", "decision"),
    [
        ({"aws:PrincipalAccount": "123456789012", "iam:PermissionsBoundary": BOUNDARY}, Decision.ALLOWED),
        ({"aws:PrincipalAccount": "123456789012", "iam:PermissionsBoundary": BOUNDARY + "2"}, Decision.IMPLICIT_DENY),
        ({"aws:PrincipalAccount": "123456789012"}, Decision.IMPLICIT_DENY),  # the key is missing: no match
        ({"iam:PermissionsBoundary": BOUNDARY}, Decision.UNRESOLVED),  # the variable is unknown
    ],
)
def test_conditions_and_policy_variables_come_from_the_request(context: dict[str, str], decision: Decision) -> None:
    assert evaluate([BOUNDED], Request("iam:CreateRole", ROLE, context)) is decision


def test_if_exists_matches_a_missing_key_and_an_unknown_operator_is_unresolved() -> None:
    if_exists = {**BOUNDED, "Condition": {"StringEqualsIfExists": {"aws:RequestTag/x": "y"}}}
    assert evaluate([if_exists], Request("iam:CreateRole", ROLE)) is Decision.ALLOWED
    numeric = {**BOUNDED, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}
    assert evaluate([numeric], Request("iam:CreateRole", ROLE)) is Decision.UNRESOLVED


def test_unknown_resources_are_unresolved_unless_the_statement_says_star_or_the_need_is_any() -> None:
    context = {"aws:PrincipalAccount": "123456789012", "iam:PermissionsBoundary": BOUNDARY}
    assert evaluate([BOUNDED], Request("iam:CreateRole", None, context)) is Decision.UNRESOLVED
    assert evaluate([{"Effect": "Allow", "Action": "*", "Resource": "*"}], Request("x:Y", None)) is Decision.ALLOWED
    unresolved_pattern = {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": [None]}
    assert evaluate([unresolved_pattern], Request("logs:PutLogEvents", "arn:aws:logs:x")) is Decision.UNRESOLVED
    assert evaluate([unresolved_pattern], Request("logs:PutLogEvents", ANY_RESOURCE)) is Decision.ALLOWED
    deny = {"Effect": "Deny", "Action": "logs:*", "Resource": [None]}
    assert evaluate([{"Effect": "Allow", "Action": "*", "Resource": "*"}, deny], Request("logs:X", "a")) is (
        Decision.UNRESOLVED
    )
