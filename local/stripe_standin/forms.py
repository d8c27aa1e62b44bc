"""Stripe's form encoding: ``metadata[invoice_id]=in_1``, ``line_items[0][quantity]=1``, ``expand[]=x``.

Decoded into nested dicts and lists of strings (Stripe's v1 API takes no JSON bodies); the handlers
coerce the leaves they use.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _split(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head) :]
    parts = _PART.findall(rest)
    if "".join(f"[{p}]" for p in parts) != rest or not head:
        raise FormError(f"Invalid parameter name: {key}", key)
    return [head, *parts]


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split(key)
        node: dict[str, Any] = root
        for depth, part in enumerate(parts):
            name = part if part != "" else str(len(node))  # `expand[]=a&expand[]=b`
            if depth == len(parts) - 1:
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise FormError(f"Invalid parameter: {key} mixes a value and a hash", key)
                node = child
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def decode(body: str) -> dict[str, Any]:
    """A query string or form body → nested params."""
    return decode_pairs(parse_qsl(body, keep_blank_values=True))
