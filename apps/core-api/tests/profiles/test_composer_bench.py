"""The builtin composer reaches its aims on the labelled JDs and SOPs of bench/data/profiles
written for it (13 tuned on, 4 held out): recall >= 0.8 and precision >= 0.9 for duties, rules
and safety lines, every stated schedule found; and keeps its floors on the 12 documents another
engineer wrote for the search bench (duties and schedules at the aims, rules and safety below:
see docs/benchmarks.md). The documents go through the real extraction and chunking first (PDF,
DOCX, TXT, MD). Before the composer read sections, it found 43% of the duties and 14% of the
schedules; before it read sections named by topic, 45% of the other author's duties. The six
``unseen`` documents are reported, not checked: they are the probe for prose not tuned on.
On every set, the sealed one included, no line may start mid-sentence and no workflow may be
scheduled with a type the orchestrator does not run (51 were, before profiles kept to the
orchestrator's types). The sealed set's scores are measured once and never checked here: a
check would invite tuning on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[4] / "bench" / "profile_composer.py"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )


def test_composer_meets_its_aims_on_the_labelled_set() -> None:
    result = _bench("--check", "--show")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "36 documents" in result.stdout


def test_the_sealed_documents_get_no_cut_sentence_and_no_invented_schedule() -> None:
    result = _bench("--check", "--sealed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 documents" in result.stdout
