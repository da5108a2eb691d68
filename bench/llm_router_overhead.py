"""Overhead of the LLM router per call, against calling the provider directly, in one run.

For each provider (builtin; and llama-cpp-python's OpenAI-compatible server on SmolLM2-135M
when the llamacpp extra is installed) it times sequential calls made
  - directly: the provider object (builtin) or the openai SDK against the server (llama.cpp),
  - through the router in-process (Router.chat; no accounting, to isolate the routing),
  - through the router in-process with the Postgres accountant (budget check + llm_calls
    insert per call, on the embedded PostgreSQL; builtin only, where it is not noise),
  - through the router service (a separate uvicorn process, over loopback HTTP; the llama.cpp
    case is driven by the openai SDK, as any OpenAI client would),
and prints median / p95 latency per call and the router's median overhead over direct.

    .venv/bin/python bench/llm_router_overhead.py [--builtin-calls 2000] [--llama-calls 30]
        [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai

warnings.filterwarnings("ignore", module="platformdirs")

from phi_llm import Router, RouterConfig  # noqa: E402
from phi_llm.config import ProviderConfig  # noqa: E402
from phi_llm.providers.builtin import BuiltinProvider  # noqa: E402
from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path  # noqa: E402
from phi_llm.types import ChatRequest  # noqa: E402
from phi_platform.embedded_pg import free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402

TOKEN = "bench-token"
MESSAGES = [{"role": "user", "content": "Dock 3 received 42 pallets today; 2 were damaged."}]


async def timed(n: int, call: Callable[[], Awaitable[object]], warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if (
                httpx.get(url, timeout=2, headers={"Authorization": f"Bearer {TOKEN}"}).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def start_router_service(
    env_extra: dict[str, str], data_dir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PHI_LLM_ROUTER_PORT": str(port),
        "PHI_LLM_ROUTER_TOKEN": TOKEN,
        "PHI_LLM_ACCOUNTING": "none",
        "PHI_DATA_DIR": str(data_dir),
        **env_extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "phi_llm_router.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v1/models", proc)
    return proc, url


def row(name: str, samples: list[float], base: float | None) -> str:
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    over = f"{p50 - base:+.3f}" if base is not None else "baseline"
    return f"| {name} | {len(samples)} | {p50:.3f} | {p95:.3f} | {over} |"


async def bench_accounted(n: int) -> list[float]:
    """Router calls that check an org's token budget and record each call in llm_calls."""
    import uuid

    import psycopg

    from phi_llm.accounting import PostgresAccountant
    from phi_llm.types import CallContext
    from phi_platform.db import create_engine, create_sessionmaker
    from phi_platform.settings import to_sqlalchemy_url

    with server() as server_url:
        url = database(server_url, "phi_bench_llm")
        org_id = uuid.uuid4()
        with psycopg.connect(url, autocommit=True) as conn:
            # A budget, so every call runs the month-to-date sum as well as the insert.
            conn.execute(
                "INSERT INTO organizations (id, name, monthly_token_budget) VALUES (%s, 'b', %s)",
                (org_id, 10**12),
            )
        engine = create_engine(to_sqlalchemy_url(url), pool_size=2)
        router = Router(env={}, accountant=PostgresAccountant(create_sessionmaker(engine)))
        context = CallContext(org_id=org_id)
        samples = await timed(
            n, lambda: router.chat(MESSAGES, task_class="default", context=context)
        )
        await engine.dispose()
        return samples


async def bench_builtin(n: int, data_dir: Path) -> list[str]:
    provider = BuiltinProvider("builtin", ProviderConfig(kind="builtin"), {})
    direct = await timed(n, lambda: provider.chat(ChatRequest(model="builtin", messages=MESSAGES)))
    router = Router(env={})
    inproc = await timed(n, lambda: router.chat(MESSAGES, task_class="default"))
    accounted = await bench_accounted(max(n // 4, 10))
    proc, url = start_router_service({}, data_dir)
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as http:
            body = {"messages": MESSAGES, "task_class": "default"}
            service = await timed(max(n // 4, 10), lambda: http.post("/chat", json=body))
    finally:
        proc.terminate()
        proc.wait(20)
    base = statistics.median(direct)
    return [
        row("builtin: provider called directly", direct, None),
        row("builtin: router in-process", inproc, base),
        row("builtin: router in-process + Postgres accounting", accounted, base),
        row("builtin: router service (HTTP /chat)", service, base),
    ]


async def bench_llama(n: int, data_dir: Path) -> list[str]:
    port = free_port()
    log = (data_dir / "llama.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(smollm2_gguf_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    kwargs = {"max_tokens": 8, "temperature": 0}
    try:
        wait_http(f"{base_url}/models", server)
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
        config = RouterConfig.model_validate(
            {
                "providers": {"llama": {"kind": "openai", "base_url": base_url}},
                "routes": {"heavy": [{"provider": "llama", "model": "smollm2"}]},
                "retries": 0,
                "timeout": 120,
            }
        )
        router = Router(config, env={})
        proc, url = start_router_service(
            {
                "PHI_OPENAI_BASE_URL": base_url,
                "PHI_LLM_ROUTES": "heavy=openai:smollm2",
                "PHI_LLM_RETRIES": "0",
            },
            data_dir,
        )
        via = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)
        paths: dict[str, Callable[[], Awaitable[object]]] = {
            "direct": lambda: sdk.chat.completions.create(
                model="smollm2", messages=MESSAGES, **kwargs
            ),
            "inproc": lambda: router.chat(MESSAGES, task_class="heavy", **kwargs),
            "service": lambda: via.chat.completions.create(
                model="heavy", messages=MESSAGES, **kwargs
            ),
        }
        # Interleaved, so that drift in the model server's speed hits every path alike.
        samples: dict[str, list[float]] = {k: [] for k in paths}
        try:
            for call in paths.values():
                await call()
            for _ in range(n):
                for name, call in paths.items():
                    t0 = time.perf_counter()
                    await call()
                    samples[name].append((time.perf_counter() - t0) * 1000)
        finally:
            proc.terminate()
            proc.wait(20)
        direct, inproc, service = samples["direct"], samples["inproc"], samples["service"]
    finally:
        server.terminate()
        server.wait(20)
        log.close()
    base = statistics.median(direct)
    return [
        row("llama.cpp server: openai SDK directly", direct, None),
        row("llama.cpp server: router in-process", inproc, base),
        row("llama.cpp server: router service (openai SDK -> /v1)", service, base),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--builtin-calls", type=int, default=2000)
    parser.add_argument("--llama-calls", type=int, default=30)
    smoke_argument(parser)
    args = parser.parse_args()
    if args.smoke:
        # The llama.cpp server takes longer to load than a smoke run may: builtin only.
        args.builtin_calls, args.llama_calls = 20, 0
    print(f"cores: {os.cpu_count()}; sequential calls, latency per call in ms")
    print("| path | calls | p50 ms | p95 ms | p50 overhead vs direct, ms |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for line in await bench_builtin(args.builtin_calls, Path(tmp)):
            print(line, flush=True)
        if args.llama_calls and llama_cpp_installed() and smollm2_gguf_path() is not None:
            for line in await bench_llama(args.llama_calls, Path(tmp)):
                print(line, flush=True)
        else:
            print(
                "| llama.cpp server | skipped: install the llamacpp extra (make bench-llm) | | | |"
            )


if __name__ == "__main__":
    asyncio.run(main())
