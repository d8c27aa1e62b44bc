"""Load the template's functions and call them in-process, as Lambda would.

Each function's `app.py` is imported under a unique module name with its own
folder first on sys.path, after the environment of all functions (Globals +
their own variables, intrinsics resolved to local resources) is set.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from local.template import ROOT, load_template, resources

LAYER = ROOT / "layers" / "billing"
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FunctionSpec:
    name: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{spec.name}"
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_specs(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    template = template or load_template()
    glob = (template.get("Globals") or {}).get("Function") or {}
    genv = ((glob.get("Environment") or {}).get("Variables")) or {}
    out = {}
    for name, res in resources(template, "AWS::Serverless::Function").items():
        props = res["Properties"]
        env = {**genv, **(((props.get("Environment") or {}).get("Variables")) or {})}
        out[name] = FunctionSpec(
            name=name,
            code_uri=ROOT / props["CodeUri"],
            handler=props.get("Handler", glob.get("Handler", "app.lambda_handler")),
            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
            memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            environment=env,
            events=props.get("Events") or {},
        )
    return out


# Template parameters that have no default (a deployment must give them: `sam deploy --guided` asks for
# them) get these values on the local stack, in the tests, the benchmarks and the OpenAPI generation, all
# through local_refs. `make run PARAMS='SellerLegalName=Acme\\ Ltd'` overrides them like any parameter.
LOCAL_PARAMETER_VALUES: dict[str, str] = {
    "SellerLegalName": "Local Seller Ltd",
    "EmailFrom": "Billing <billing@billing.local>",
    "AlarmEmail": "alarms@billing.local",
}


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("Default") for k, v in (template.get("Parameters") or {}).items()}


def parameter_values(template: dict[str, Any]) -> dict[str, str]:
    """Each parameter's local value: its default, else its LOCAL_PARAMETER_VALUES entry. A parameter
    with neither is left out (a function referencing it fails to resolve, naming it)."""
    out: dict[str, str] = {}
    for name, default in parameter_defaults(template).items():
        if default is not None:
            out[name] = str(default)
        elif name in LOCAL_PARAMETER_VALUES:
            out[name] = LOCAL_PARAMETER_VALUES[name]
    return out


def parse_parameter_overrides(template: dict[str, Any], text: str) -> dict[str, str]:
    """``Name=Value Name2=Value2`` (as ``sam deploy --parameter-overrides`` takes them), checked
    against the template's Parameters as CloudFormation would: known names, AllowedValues,
    AllowedPattern, Number ranges. Raises ValueError naming the parameter at fault."""
    declared: dict[str, dict[str, Any]] = template.get("Parameters") or {}
    out: dict[str, str] = {}
    for pair in shlex.split(text):
        if pair.startswith("ParameterKey="):  # the long form: ParameterKey=Name,ParameterValue=Value
            key, sep, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
            name = key
        else:
            name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"parameter override {pair!r}: expected Name=Value")
        spec = declared.get(name)
        if spec is None:
            known = ", ".join(sorted(declared))
            raise ValueError(f"parameter override {name!r}: the template has no such parameter ({known})")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise ValueError(f"parameter override {name}={value!r}: must be one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ValueError(f"parameter override {name}={value!r}: must match {pattern}")
        if spec.get("Type") == "Number":
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueError(f"parameter override {name}={value!r}: must be a number") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if (low is not None and number < Decimal(str(low))) or (
                high is not None and number > Decimal(str(high))
            ):
                raise ValueError(f"parameter override {name}={value!r}: must be within [{low}, {high}]")
        out[name] = value
    return out


def resolve(value: Any, refs: Mapping[str, str]) -> str:
    """Resolve the intrinsics used in environment variables to local values."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            if arg not in refs:
                raise KeyError(f"no local value for !Ref {arg}")
            return refs[arg]
        if fn == "Fn::GetAtt":
            res, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
            key = f"{res}.{attr}"
            if key in refs:
                return refs[key]
            return f"arn:aws:local:us-east-1:000000000000:{res}"
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            for k, v in refs.items():
                text = text.replace("${" + k + "}", v)
            return text
    raise ValueError(f"cannot resolve {value!r} locally")


def local_refs(template: dict[str, Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """!Ref values on the local stack: tables by logical id, parameters by their local value
    (parameter_values), plus `extra` (resources created in moto, parameter overrides)."""
    refs: dict[str, str] = parameter_values(template)
    refs["Stage"] = "local"
    refs.update(
        {"AWS::Region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "AWS::AccountId": "000000000000"}
    )
    for name in resources(template, "AWS::DynamoDB::Table"):
        refs[name] = name
    for name in resources(template, "AWS::S3::Bucket"):
        refs[name] = name.lower()
    refs.update(extra or {})
    return refs


def placeholder_refs(template: dict[str, Any]) -> dict[str, str]:
    """Queue URLs for code that only needs the environment to import (OpenAPI, cold-start bench)."""
    return {q: f"http://localhost/000000000000/{q}" for q in resources(template, "AWS::SQS::Queue")}


def function_environment(template: dict[str, Any], refs: Mapping[str, str]) -> dict[str, str]:
    """The union of every function's resolved environment (they must agree on shared names)."""
    env: dict[str, str] = {}
    for spec in function_specs(template).values():
        for k, v in spec.environment.items():
            value = resolve(v, refs)
            if k in env and env[k] != value:
                raise ValueError(f"functions disagree on {k}: {env[k]!r} vs {value!r}")
            env[k] = value
    return env


def anchor_code_uris(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make every function's CodeUri absolute, relative to the folder of the template that names it
    (function_specs reads CodeUri relative to the repository root, which is right for template.yaml only)."""
    glob = (template.get("Globals") or {}).get("Function") or {}
    if isinstance(glob.get("CodeUri"), str):
        glob["CodeUri"] = str((base / glob["CodeUri"]).resolve())
    for res in resources(template, "AWS::Serverless::Function").values():
        props = res.setdefault("Properties", {})
        uri = props.get("CodeUri", glob.get("CodeUri"))
        if isinstance(uri, str):
            props["CodeUri"] = str((base / uri).resolve())
    return template


_loaded: dict[str, Handler] = {}
_load_lock = threading.RLock()  # the gateway, scheduler and pollers may cold-start a function at once


def load_handler(spec: FunctionSpec) -> Handler:
    """Import the function's module once and return its handler."""
    if spec.name in _loaded:
        return _loaded[spec.name]
    with _load_lock:
        if spec.name in _loaded:
            return _loaded[spec.name]
        return _import_handler(spec)


def _import_handler(spec: FunctionSpec) -> Handler:
    module_name, _, attr = spec.handler.rpartition(".")
    path = spec.code_uri / (module_name.replace(".", "/") + ".py")
    for p in (str(LAYER), str(spec.code_uri)):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    mod_spec = importlib.util.spec_from_file_location(f"lambda_{spec.name}_{module_name}", path)
    assert mod_spec and mod_spec.loader
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = module
    mod_spec.loader.exec_module(module)
    handler: Handler = getattr(module, attr)
    _loaded[spec.name] = handler
    return handler


def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    return load_handler(spec)(event, LambdaContext(spec))
