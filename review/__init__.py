"""Pull-request review of the synthesized CloudFormation: what each environment would add, remove,
update in place or replace, by CloudFormation's own rules (the `cdk diff` library), with a policy
that fails on unacknowledged replacement or deletion of stateful resources in staging and prod.

Run it with `make review` or `python -m review`; see "Reviewing a change" in the README.
"""
