"""A small Amazon States Language interpreter for tests: runs a synthesized definition with mocked tasks.

It follows the JSONPath query language the pipeline uses (InputPath, Parameters with `.$` keys and
the intrinsics States.Format / States.JsonMerge, ResultSelector, ResultPath, OutputPath, Choice
rules, Catch, Pass, Fail, Succeed). A JSONata state is handed to the caller's `jsonata` function.
Tasks are answered by the caller's `task` function (resource, resolved parameters) -> result, which
raises `TaskFailedError` to fail the task. Anything it does not know raises NotImplementedError,
so a definition the interpreter cannot run fails the test instead of passing by accident.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

_SESSION = botocore.session.get_session()
_FILTER = re.compile(r"(\w*)\[\?\(@\.(\w+) == '([^']*)'\)\]")
_INDEX = re.compile(r"(\w*)\[(\d+)\]")


@dataclass
class ServiceAnswers:
    """Mocked answers to a definition's tasks (`run(..., task=<an instance>)`): every request is recorded by
    operation; SNS Publish is answered; a SageMaker (or other SDK integration's) request is first validated against
    botocore's model of the API (types, required members, lengths and ranges), then answered by the method named
    like the API's action (`createTrainingJob`), which a subclass provides."""

    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __call__(self, resource: str, parameters: Any) -> Any:
        operation = resource.rsplit(":", maxsplit=1)[-1].removesuffix(".sync")
        self.requests.setdefault(operation, []).append(parameters)
        if operation == "publish":
            return {"MessageId": "m-1"}
        # arn:aws:states:::sagemaker:<action>[.sync] or arn:aws:states:::aws-sdk:<service>:<action>
        service = resource.split(":::", maxsplit=1)[-1].removeprefix("aws-sdk:").split(":", maxsplit=1)[0]
        api = _SESSION.get_service_model(service).operation_model(operation[0].upper() + operation[1:])
        report = ParamValidator().validate(_native(parameters, api.input_shape), api.input_shape)
        assert not report.has_errors(), report.generate_report()
        return getattr(self, operation)(parameters)

    def published(self) -> list[Any]:
        """The SNS messages published, in order: Step Functions sends a JSON object as its text."""
        messages = [request["Message"] for request in self.requests.get("publish", [])]
        return [json.loads(message) if isinstance(message, str) else message for message in messages]


def _native(value: Any, shape: Any) -> Any:
    """An SDK integration's parameters as the API names them: Step Functions spells every member in PascalCase,
    "even if the native service API is in camelCase" (https://docs.aws.amazon.com/step-functions/latest/dg/
    supported-services-awssdk.html), as ECR's is."""
    if shape is None:
        return value
    if isinstance(value, dict) and shape.type_name == "structure":
        members = {name[0].upper() + name[1:]: name for name in shape.members}
        return {
            members.get(key, key): _native(item, shape.members.get(members.get(key, key)))
            for key, item in value.items()
        }
    if isinstance(value, list) and shape.type_name == "list":
        return [_native(item, shape.member) for item in value]
    return value


class TaskFailedError(Exception):
    """A task's failure: Step Functions' Error and Cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class PathMissingError(KeyError):
    """A reference path selects nothing (Step Functions fails the state with States.Runtime)."""


@dataclass
class Execution:
    """How an execution went: the states it entered, its end, its output or error."""

    states: list[str] = field(default_factory=list)
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None


def get(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    """The value `path` selects ($ or $$ paths; dots, [n] and [?(@.k == 'v')] filters)."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    values: list[Any] = [root]
    filtered = False
    for part in [p for p in re.split(r"\.(?![^\[]*\])", rest) if p]:
        match_filter, match_index = _FILTER.fullmatch(part), _INDEX.fullmatch(part)
        name = match_filter.group(1) if match_filter else match_index.group(1) if match_index else part
        if name:
            values = [_child(v, name, path) for v in values]
        if match_filter:
            key, wanted = match_filter.group(2), match_filter.group(3)
            values = [item for v in values for item in v if isinstance(item, dict) and item.get(key) == wanted]
            filtered = True
        elif match_index:
            index = int(match_index.group(2))
            values = [v[index] if isinstance(v, list) and index < len(v) else _missing(path) for v in values]
    if filtered:
        return values
    return values[0]


def _child(value: Any, name: str, path: str) -> Any:
    if isinstance(value, dict) and name in value:
        return value[name]
    if isinstance(value, list):  # after a filter: each match's field
        return [item[name] for item in value if isinstance(item, dict) and name in item]
    return _missing(path)


def _missing(path: str) -> Any:
    raise PathMissingError(path)


def present(path: str, data: Any) -> bool:
    try:
        get(path, data, {})
    except PathMissingError:
        return False
    return True


def resolve(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """Parameters / ResultSelector: `.$` keys take the value of a path or an intrinsic function."""
    if isinstance(template, list):
        return [resolve(item, data, context) for item in template]
    if not isinstance(template, dict):
        return copy.deepcopy(template)
    resolved = {}
    for key, value in template.items():
        if key.endswith(".$"):
            resolved[key[:-2]] = _expression(value, data, context)
        else:
            resolved[key] = resolve(value, data, context)
    return resolved


def _expression(text: str, data: Any, context: Mapping[str, Any]) -> Any:
    text = text.strip()
    if text.startswith("$"):
        return copy.deepcopy(get(text, data, context))
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return json.loads(text)
    if text in {"true", "false", "null"}:
        return json.loads(text)
    match = re.fullmatch(r"(States\.\w+)\((.*)\)", text, re.DOTALL)
    if not match:
        raise NotImplementedError(f"expression {text!r}")
    arguments = [_expression(a, data, context) for a in _split_arguments(match.group(2))]
    return _intrinsic(match.group(1), arguments)


def _split_arguments(text: str) -> list[str]:
    parts, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current] if current.strip() else parts


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _intrinsic(name: str, arguments: list[Any]) -> Any:
    if name == "States.Format":
        template, values = arguments[0], list(arguments[1:])
        pieces = template.split("{}")
        if len(pieces) - 1 != len(values):
            raise NotImplementedError(f"States.Format with {len(values)} values for {template!r}")
        return pieces[0] + "".join(_format_value(v) + piece for v, piece in zip(values, pieces[1:], strict=True))
    if name == "States.JsonMerge":
        left, right, deep = arguments
        if deep is not False or not isinstance(left, dict) or not isinstance(right, dict):
            raise TaskFailedError("States.Runtime", f"States.JsonMerge needs two objects and false, got {arguments}")
        return {**left, **right}
    if name == "States.StringSplit":
        text, delimiters = arguments
        return [part for part in re.split(f"[{re.escape(delimiters)}]", text) if part]
    if name == "States.JsonToString":
        return json.dumps(arguments[0], separators=(",", ":"))
    raise NotImplementedError(name)


def set_result(data: Any, result_path: str | None, result: Any) -> Any:
    """ResultPath: where the result goes in the state's input (None: discarded; '$': replaces it)."""
    if result_path is None:
        return data
    if result_path == "$":
        return result
    target = copy.deepcopy(data)
    node = target
    parts = result_path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = result
    return target


# ----- Choice rules -----------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Null": lambda v: v is None,
}


def _combined(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, context) for r in rule["Or"])
    return not matches(rule["Not"], data, context)


def matches(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    """Whether a Choice rule holds for `data`."""
    if {"And", "Or", "Not"} & set(rule):
        return _combined(rule, data, context)
    variable = rule["Variable"]
    operators = [k for k in rule if k not in {"Variable", "Next"}]
    if len(operators) != 1:
        raise NotImplementedError(f"rule {rule}")
    operator, operand = operators[0], rule[operators[0]]
    if operator == "IsPresent":
        return present(variable, data) is operand
    try:
        value = get(variable, data, context)
    except PathMissingError as missing:
        raise TaskFailedError("States.Runtime", f"Invalid path {variable}: not present") from missing
    if operator.startswith("Is") and operator[2:] in _TYPES:
        return _TYPES[operator[2:]](value) is operand
    if operator == "StringMatches":
        return isinstance(value, str) and fnmatch.fnmatchcase(value, operand)
    if operator.endswith("Path"):
        operand = get(operand, data, context)
        operator = operator[: -len("Path")]
    for kind, check in (("String", _TYPES["String"]), ("Numeric", _TYPES["Numeric"]), ("Boolean", _TYPES["Boolean"])):
        if operator.startswith(kind):
            comparison = _COMPARISONS[operator[len(kind) :]]
            return check(value) and check(operand) and comparison(value, operand)
    raise NotImplementedError(operator)


# ----- the definition of a synthesized state machine -----------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/execution-role"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/key"


def definition_of(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template's state machine definition, each CloudFormation reference replaced by a well-formed value."""
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    body = machine["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]

    def value(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "Arn":
            return ROLE_ARN if "Role" in part["Fn::GetAtt"][0] else KEY_ARN
        if part.get("Ref") == "AWS::Partition":
            return "aws"
        return "reference"

    definition: dict[str, Any] = json.loads("".join(value(p) for p in parts))
    return definition


# ----- the interpreter ----------------------------------------------------------------------------------


def run(
    definition: Mapping[str, Any],
    execution_input: Any,
    *,
    execution_name: str,
    task: Callable[[str, Any], Any],
    jsonata: Callable[[str, Any, Mapping[str, Any]], Any] | None = None,
    max_steps: int = 200,
) -> Execution:
    """Run `definition` to its end with `execution_input`."""
    context = {"Execution": {"Name": execution_name, "Id": f"arn:aws:states:::execution:sm:{execution_name}"}}
    context["Execution"]["Input"] = copy.deepcopy(execution_input)
    execution = Execution()
    name, data = definition["StartAt"], copy.deepcopy(execution_input)
    for _ in range(max_steps):
        state = definition["States"][name]
        execution.states.append(name)
        kind = state["Type"]
        if kind == "Fail":
            execution.status = "FAILED"
            execution.error = state.get("Error") or get(state["ErrorPath"], data, context)
            execution.cause = state.get("Cause") or get(state["CausePath"], data, context)
            return execution
        if kind == "Succeed":
            execution.status, execution.output = "SUCCEEDED", data
            return execution
        if kind == "Choice":
            name = next((r["Next"] for r in state["Choices"] if matches(r, data, context)), None) or state["Default"]
            continue
        try:
            data = _step(state, data, context, task, jsonata)
        except TaskFailedError as failure:
            catcher = next(
                (c for c in state.get("Catch", []) if {"States.ALL", failure.error} & set(c["ErrorEquals"])), None
            )
            if catcher is None or failure.error == "States.Runtime":
                execution.status, execution.error, execution.cause = "FAILED", failure.error, failure.cause
                return execution
            data = set_result(data, catcher.get("ResultPath", "$"), {"Error": failure.error, "Cause": failure.cause})
            name = catcher["Next"]
            continue
        if state.get("End"):
            execution.status, execution.output = "SUCCEEDED", data
            return execution
        name = state["Next"]
    raise RuntimeError(f"more than {max_steps} states: a loop?")


def _step(
    state: Mapping[str, Any],
    data: Any,
    context: Mapping[str, Any],
    task: Callable[[str, Any], Any],
    jsonata: Callable[[str, Any, Mapping[str, Any]], Any] | None,
) -> Any:
    if state.get("QueryLanguage") == "JSONata":
        if (
            jsonata is None
            or state["Type"] != "Pass"
            or set(state) - {"Type", "QueryLanguage", "Comment", "Output", "Next", "End"}
        ):
            raise NotImplementedError(f"JSONata state {state}")
        return jsonata(state["Output"], data, context)
    try:
        effective = get(state.get("InputPath", "$"), data, context)
        if state["Type"] == "Pass":
            result = (
                resolve(state["Parameters"], effective, context)
                if "Parameters" in state
                else state.get("Result", effective)
            )
        elif state["Type"] == "Task":
            parameters = resolve(state.get("Parameters", {}), effective, context)
            result = task(state["Resource"], parameters)
            if "ResultSelector" in state:
                result = resolve(state["ResultSelector"], result, context)
        else:
            raise NotImplementedError(state["Type"])
        output = set_result(data, state.get("ResultPath", "$"), result)
        return get(state.get("OutputPath", "$"), output, context)
    except PathMissingError as missing:
        raise TaskFailedError("States.Runtime", f"The JSONPath {missing.args[0]} could not be found") from missing
