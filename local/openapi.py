"""Print the OpenAPI document generated from the `api` function's routes (`make openapi`)."""

from __future__ import annotations

import json
import os
import sys


def generate() -> dict[str, object]:
    from local.functions import (
        function_environment,
        function_specs,
        load_handler,
        local_refs,
        placeholder_refs,
    )
    from local.template import load_template

    template = load_template()
    # Routes need no AWS resource to describe themselves: queues get placeholder URLs.
    for k, v in function_environment(
        template, local_refs(template, extra=placeholder_refs(template))
    ).items():
        os.environ.setdefault(k, v)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    handler = load_handler(function_specs(template)["ApiFunction"])
    app = sys.modules[handler.__module__].app
    return json.loads(app.get_openapi_json_schema())  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.stdout.write(json.dumps(generate(), indent=2, sort_keys=True) + "\n")
