"""Read template.yaml: the one source of truth for tables, routes, schedules and queues.

CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...) are loaded as small
dicts so the local stack can resolve the few it needs.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_TAGS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!GetAZs": "Fn::GetAZs",
    "!Base64": "Fn::Base64",
    "!Condition": "Condition",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
}


class _Loader(yaml.SafeLoader):
    pass


def _construct(tag: str):  # type: ignore[no-untyped-def]
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "!GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {_TAGS[tag]: value}

    return construct


for _tag in _TAGS:
    _Loader.add_constructor(_tag, _construct(_tag))


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    """The parsed template (a deep copy, safe to mutate)."""
    return copy.deepcopy(_load(str(path)))


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == type_}


def table_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for every AWS::DynamoDB::Table, keyed by logical id.

    Only what DynamoDB Local understands is kept; encryption and PITR are AWS-side settings.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, res in resources(template, "AWS::DynamoDB::Table").items():
        props = res["Properties"]
        spec: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        gsis = props.get("GlobalSecondaryIndexes")
        if gsis:
            spec["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in gsis
            ]
        ttl = props.get("TimeToLiveSpecification")
        out[name] = {"create": spec, "ttl": ttl}
    return out


def create_tables(client: Any, template: dict[str, Any] | None = None) -> list[str]:
    """Create the template's tables that do not exist yet; returns the names created."""
    template = template or load_template()
    existing = set(client.list_tables()["TableNames"])
    created = []
    for name, definition in table_definitions(template).items():
        if name in existing:
            continue
        client.create_table(**definition["create"])
        ttl = definition["ttl"]
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        created.append(name)
    return created
