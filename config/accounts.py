"""Account policy across environments: who manages SageMaker's shared log groups, and when prod may share
its account with another environment (docs/security.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.types import EnvironmentName

if TYPE_CHECKING:  # the loader imports this module
    from config.settings import EnvironmentConfig


def shared_log_group_problems(environments: dict[EnvironmentName, EnvironmentConfig]) -> list[str]:
    """/aws/sagemaker/TrainingJobs and TransformJobs exist once per account and region."""
    owners: dict[tuple[str | None, str], EnvironmentName] = {}
    problems = []
    for name, settings in environments.items():
        if not settings.monitoring.manage_job_log_groups:
            continue
        place = (settings.account, settings.region)
        if place in owners:
            problems.append(
                f"environment {name.value!r}: monitoring.manage_job_log_groups: environment "
                f"{owners[place].value!r} already manages SageMaker's job log groups in the same account and "
                "region (an account left out counts as the same); set it in one environment per account and region"
            )
        owners[place] = name
    return problems


# What prod gives up when another environment lives in its account (docs/security.md).
SHARED_ACCOUNT_COST = (
    "in one account IAM cannot fully keep the other environments' roles (and the dev notebook) away from prod: "
    "whoever may write a log event may publish any embedded metric, so prod's alarms can be tripped or masked; "
    "account quotas (endpoint instances, training jobs) are shared, so a test can starve prod; and an "
    "administrator of the account administers prod. Separate accounts are the recommended setup (docs/security.md)"
)


def account_sharing_problems(
    environments: dict[EnvironmentName, EnvironmentConfig], explicit: set[EnvironmentName]
) -> list[str]:
    """Prod shares its account with another environment only where its settings say so.

    An account left out is the credentials' account at deploy time, so it may be prod's: it counts
    as shared. IAM is global, so a different region of the same account is no separation either. A
    declaration is stale only where the file itself gives both accounts (`explicit`): whoever deploys
    dev with dev's credentials must not be stopped by prod's declaration.
    """
    prod = environments.get(EnvironmentName.PROD)
    if prod is None:
        return []

    def may_share(name: EnvironmentName) -> bool:
        account = environments[name].account
        return account is None or prod.account is None or account == prod.account

    sharing = [name for name in environments if name is not EnvironmentName.PROD and may_share(name)]
    undeclared = [name.value for name in sharing if name not in prod.shared_account_with]
    stale = [
        name.value
        for name in prod.shared_account_with
        if name not in environments or ({name, EnvironmentName.PROD} <= explicit and name not in sharing)
    ]
    if all(environments[name].account and prod.account for name in sharing):
        account = f"account {prod.account}"
    else:
        account = "what may be the same account (one left out is the account `cdk deploy` runs with)"
    problems = []
    if undeclared:
        declared = ", ".join(f'"{name.value}"' for name in sharing)
        problems.append(
            f"environment 'prod': shared_account_with: {', '.join(undeclared)} deploy(s) into {account} as prod; "
            f"{SHARED_ACCOUNT_COST}. To accept this, set shared_account_with = [{declared}] in [environments.prod]; "
            "otherwise give each environment its own account"
        )
    if stale:
        problems.append(
            f"environment 'prod': shared_account_with: {', '.join(stale)} not in prod's account "
            f"({prod.account or 'left out'}) or not configured: remove it from the list"
        )
    return problems
