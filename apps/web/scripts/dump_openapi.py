"""Print the OpenAPI documents of the services as one JSON object {service: document}.

Built from the application objects, so no server or database is needed; used by
scripts/gen-api.mjs to generate the web app's TypeScript types.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

warnings.filterwarnings("ignore")


def inline_local_defs(node: Any, defs: dict[str, Any] | None = None) -> Any:
    """Replace ``{"$ref": "#/$defs/X"}`` by the schema X of the nearest enclosing ``$defs``.

    FastAPI leaves such local definitions inside some request schemas (pydantic's JsonValue);
    the refs then point at the document root, where openapi-typescript cannot find them.
    """
    if isinstance(node, list):
        return [inline_local_defs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$defs" in node:
        defs = {**(defs or {}), **node["$defs"]}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and defs is not None:
        name = ref.removeprefix("#/$defs/")
        if name in defs:
            return inline_local_defs(defs[name], defs)
    return {key: inline_local_defs(value, defs) for key, value in node.items() if key != "$defs"}


def main() -> None:
    from phi_core_api.main import create_app as create_core_api
    from phi_orchestrator.main import create_app as create_orchestrator

    documents = {
        "core": create_core_api().openapi(),
        "orchestrator": create_orchestrator().openapi(),
    }
    json.dump(inline_local_defs(documents), sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
