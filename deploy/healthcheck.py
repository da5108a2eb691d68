#!/usr/bin/env python3
"""Container health check: GET /ready of the process in this container.

The port comes from the service's own variable (PHI_HEALTH_PORT_VARIABLE names it:
PHI_CORE_API_PORT, PHI_ORCHESTRATOR_PORT...); a worker sets PHI_WORKER_METRICS_PORT, which
wins. With PHI_METRICS_TOKEN set, /ready stays open, so no token is needed here.
"""

import os
import sys
import urllib.request

DEFAULTS = {
    "PHI_CORE_API_PORT": "8000",
    "PHI_ORCHESTRATOR_PORT": "8001",
    "PHI_LLM_ROUTER_PORT": "8002",
}

variable = os.environ.get("PHI_HEALTH_PORT_VARIABLE", "PHI_CORE_API_PORT")
port = (
    os.environ.get("PHI_WORKER_METRICS_PORT")
    or os.environ.get(variable)
    or DEFAULTS.get(variable, "8000")
)
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"
    print(f"not ready on port {port}: {exc}", file=sys.stderr)
    sys.exit(1)
