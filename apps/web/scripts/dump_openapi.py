"""Print the OpenAPI documents of the services as one JSON object {service: document}.

Built from the application objects, so no server or database is needed; used by
scripts/gen-api.mjs to generate the web app's TypeScript types.
"""

from __future__ import annotations

import json
import sys
import warnings

warnings.filterwarnings("ignore")


def main() -> None:
    from phi_core_api.main import create_app as create_core_api

    documents = {"core": create_core_api().openapi()}
    try:
        from phi_orchestrator.main import create_app as create_orchestrator
    except ImportError:
        pass  # the orchestrator has no HTTP app yet
    else:
        documents["orchestrator"] = create_orchestrator().openapi()
    json.dump(documents, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
