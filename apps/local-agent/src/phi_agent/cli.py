"""Entry point of `phi-agent`. Commands arrive with the local-agent issue."""

from __future__ import annotations

import sys

from phi_agent import __version__


def main() -> None:
    if sys.argv[1:] in (["--version"], ["version"]):
        print(f"phi-agent {__version__}")
        return
    print("phi-agent: no commands yet; see the project's docs for the local agent's status")
    sys.exit(2)
