"""The Kubernetes manifests of docs/deploy.md are valid objects of the Kubernetes API: every
```yaml block is checked against the API's schemas (kubernetes-validate ships them), strictly,
so a misspelt or misplaced field fails here rather than on a customer's cluster. No chart ships
(docs/deploy.md says why), so these blocks are what a user copies."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DOC = Path(__file__).resolve().parents[3] / "docs" / "deploy.md"
KUBERNETES = "1.31"  # the oldest release the manifests are written for


def manifests() -> list[dict[str, object]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc]


def test_docs_hold_the_whole_pattern() -> None:
    kinds = sorted({str(m["kind"]) for m in manifests()})
    assert kinds == ["Deployment", "Job", "Secret", "Service"]


@pytest.mark.parametrize(
    "manifest",
    manifests(),
    ids=lambda m: f"{m['kind']}-{m['metadata']['name']}",  # type: ignore[index]
)
def test_manifest_is_valid_for_kubernetes(manifest: dict[str, object]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
