"""Hyperparameter schemas, written once for the container and the app (see schema.py)."""

from hyperschema.declare import enforce, param, schema_of
from hyperschema.schema import RESERVED, TYPES, Condition, Hyperparameter, Rule, Schema, SchemaError, finite_number

__all__ = [
    "RESERVED",
    "TYPES",
    "Condition",
    "Hyperparameter",
    "Rule",
    "Schema",
    "SchemaError",
    "enforce",
    "finite_number",
    "param",
    "schema_of",
]
