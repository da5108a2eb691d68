"""The router: picks providers by task class, retries, falls back, times out, accounts."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import jsonschema

from phi_llm.accounting import Accountant, NullAccountant, Reservation
from phi_llm.config import RouteEntry, RouterConfig, config_from_env
from phi_llm.embeddings import EmbeddingError
from phi_llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    ProviderError,
    ResponseOvershoot,
    UnknownTaskClass,
)
from phi_llm.metrics import count_call
from phi_llm.pricing import estimate_cost
from phi_llm.providers import Provider, create_provider
from phi_llm.types import (
    CallContext,
    CallRecord,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingBackend,
    EmbedResult,
    Message,
    Operation,
    estimate_tokens,
    prompt_text,
)

log = logging.getLogger(__name__)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

# (provider, entry, timeout, output cap) -> answer
ProviderCall = Callable[[Provider, RouteEntry, float, int], Awaitable[ChatResult]]


def default_embedder() -> EmbeddingBackend:
    """The embedding provider configured for the platform (see :mod:`phi_llm.embeddings`)."""
    from phi_llm.embeddings import get_embedding_provider

    try:
        return cast(EmbeddingBackend, get_embedding_provider())
    except EmbeddingError as exc:
        raise ProviderError("embeddings", "-", "unavailable", str(exc)) from exc


class Router:
    """Routes chat, completion and embedding calls to providers.

    Each task class maps to an ordered list of provider/model entries. An entry is retried
    with exponential backoff on 429 and 5xx, and the next entry is tried on any other error,
    on a timeout or on output that does not match the requested JSON schema. Every attempt is
    reported to the accountant; the organization's budget is checked before each call.

    Output is capped: at the caller's ``max_tokens``, or ``reserve_output_tokens`` when it
    gives none, which is also what the budget reserves for it. Providers are asked for no
    more (the ``openai`` one streams and cuts the answer there); an answer that still comes
    back longer is refused with :class:`ResponseOvershoot` and charged.
    """

    def __init__(
        self,
        config: RouterConfig | None = None,
        *,
        accountant: Accountant | None = None,
        embedder: EmbeddingBackend | Callable[[], EmbeddingBackend] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env = os.environ if env is None else env
        self.config = config or config_from_env(self.env)
        self.accountant: Accountant = accountant or NullAccountant()
        self._providers: dict[str, Provider] = {}
        self._embedder = embedder

    # -- configuration -------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            self._providers[name] = create_provider(name, self.config.providers[name], self.env)
        return self._providers[name]

    def route(self, task_class: str) -> list[RouteEntry]:
        """The entries serving ``task_class``, or the one ``provider/model`` it names."""
        if task_class in self.config.routes:
            return self.config.routes[task_class]
        provider, sep, model = task_class.partition("/")
        if sep and provider in self.config.providers and model:
            return [RouteEntry(provider=provider, model=model)]
        raise UnknownTaskClass(
            f"unknown task class or model '{task_class}'; known task classes: "
            f"{', '.join(sorted(self.config.routes))}, or provider/model with a provider among "
            f"{', '.join(sorted(self.config.providers))}"
        )

    def model_names(self) -> list[str]:
        """Task classes first, then every provider/model a route names."""
        names = sorted(self.config.routes)
        for entries in self.config.routes.values():
            names += [e.label for e in entries if e.label not in names]
        return names

    def embedder(self) -> EmbeddingBackend:
        if self._embedder is None:
            self._embedder = default_embedder()
        elif not isinstance(self._embedder, EmbeddingBackend) and callable(self._embedder):
            self._embedder = self._embedder()
        return self._embedder  # type: ignore[return-value]

    # -- operations ----------------------------------------------------------------------

    async def chat(
        self,
        messages: list[Message],
        *,
        task_class: str = "default",
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "result",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> ChatResult:
        """Chat completion; with ``json_schema`` the result's ``parsed`` holds valid JSON.

        With ``tools`` the model may answer with ``tool_calls`` instead of text. Only providers
        that call tools serve such a request: route entries of the builtin provider are
        skipped (it has no reasoning to pick a tool with), and a route with nothing else
        fails naming that."""
        ctx = context or CallContext()

        def call(
            provider: Provider, entry: RouteEntry, timeout: float, cap: int
        ) -> Awaitable[ChatResult]:
            if tools and not provider.supports_tools:
                raise provider.error(
                    entry.model,
                    "unsupported",
                    f"the {provider.kind} provider cannot call tools; route this task class "
                    "to a model (PHI_LLM_ROUTES, e.g. heavy=openai:<model>)",
                )
            return provider.chat(
                ChatRequest(
                    model=entry.model,
                    messages=messages,
                    json_schema=json_schema,
                    schema_name=schema_name,
                    max_tokens=cap,
                    temperature=temperature,
                    timeout=timeout,
                    facts=facts,
                    task=ctx.task,
                    tools=tools or None,
                    tool_choice=tool_choice if tools else None,
                )
            )

        prompt = prompt_text(messages)
        if tools:
            prompt += json.dumps(tools)
        return await self._run(
            "chat", task_class, ctx, call, json_schema, estimate_tokens(prompt), max_tokens
        )

    async def supports_tools(self, task_class: str) -> bool:
        """Whether some entry of ``task_class``'s route can call tools (not builtin only)."""
        try:
            entries = self.route(task_class)
        except UnknownTaskClass:
            return False
        return any(self.config.providers[e.provider].kind != "builtin" for e in entries)

    async def complete(
        self,
        prompt: str,
        *,
        task_class: str = "default",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
    ) -> ChatResult:
        """Text completion of ``prompt``."""
        ctx = context or CallContext()

        def call(
            provider: Provider, entry: RouteEntry, timeout: float, cap: int
        ) -> Awaitable[ChatResult]:
            return provider.complete(
                CompletionRequest(
                    model=entry.model,
                    prompt=prompt,
                    max_tokens=cap,
                    temperature=temperature,
                    timeout=timeout,
                    facts=facts,
                    task=ctx.task,
                )
            )

        return await self._run(
            "complete", task_class, ctx, call, None, estimate_tokens(prompt), max_tokens
        )

    async def embed(
        self,
        texts: list[str],
        *,
        input_type: str = "passage",
        context: CallContext | None = None,
    ) -> EmbedResult:
        """Embed passages (documents) or queries with the platform's embedding provider.

        There is no fallback: vectors of another model would not be comparable with the
        stored ones.
        """
        ctx = context or CallContext()
        started = time.perf_counter()
        try:
            embedder = self.embedder()
        except ProviderError as exc:
            await self._record(
                "embed", "embed", exc.provider, exc.model, "error", ctx, started, error=str(exc)
            )
            raise AllProvidersFailed("embed", [exc]) from exc
        name = str(getattr(embedder, "name", None) or "local")
        tokens = sum(estimate_tokens(t) for t in texts)
        reservation = await self._reserve("embed", "embed", name, embedder.model, ctx, tokens)
        try:
            return await self._embed(embedder, name, texts, input_type, ctx, started, tokens)
        except BaseException:
            if reservation is not None:
                await self.accountant.settle(reservation, 0)
            raise

    async def _embed(
        self,
        embedder: EmbeddingBackend,
        name: str,
        texts: list[str],
        input_type: str,
        ctx: CallContext,
        started: float,
        tokens: int,
    ) -> EmbedResult:
        timeout = self.config.timeout
        try:
            async with asyncio.timeout(timeout):
                batch_queries = getattr(embedder, "embed_queries", None)
                if input_type == "query" and batch_queries is not None:
                    vectors = await asyncio.to_thread(batch_queries, texts)
                elif input_type == "query":
                    vectors = [await asyncio.to_thread(embedder.embed_query, t) for t in texts]
                else:
                    vectors = await asyncio.to_thread(embedder.embed_passages, texts)
        except TimeoutError as exc:
            err = ProviderError(name, embedder.model, "timeout", f"no answer within {timeout}s")
            await self._record(
                "embed", "embed", name, embedder.model, "timeout", ctx, started, error=str(err)
            )
            raise AllProvidersFailed("embed", [err]) from exc
        except ProviderError as exc:
            await self._record(
                "embed", "embed", name, embedder.model, "error", ctx, started, error=str(exc)
            )
            raise AllProvidersFailed("embed", [exc]) from exc
        except (EmbeddingError, OSError, RuntimeError, ValueError) as exc:
            err = ProviderError(name, embedder.model, "server_error", str(exc))
            await self._record(
                "embed", "embed", name, embedder.model, "error", ctx, started, error=str(err)
            )
            raise AllProvidersFailed("embed", [err]) from exc
        latency = await self._record(
            "embed",
            "embed",
            name,
            embedder.model,
            "ok",
            ctx,
            started,
            tokens_in=tokens,
            cost=estimate_cost(name, embedder.model, tokens, 0),
        )
        return EmbedResult(
            vectors=[list(map(float, v)) for v in vectors],
            provider=name,
            model=embedder.model,
            dim=embedder.dim,
            tokens_in=tokens,
            latency_ms=latency,
        )

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()

    # -- machinery -----------------------------------------------------------------------

    def _backoff(self, attempt: int, error: ProviderError) -> float:
        delay = min(self.config.backoff_max, self.config.backoff * 2**attempt)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.config.backoff_max))
        return delay * (1 + random.uniform(0, 0.1))

    def metered(self, entry: RouteEntry) -> bool:
        """Whether a route entry calls a language model (its tokens count against budgets)."""
        return self.config.providers[entry.provider].kind != "builtin"

    async def _reserve(
        self,
        operation: Operation,
        task_class: str,
        provider: str,
        model: str,
        ctx: CallContext,
        tokens: int,
    ) -> Reservation | None:
        started = time.perf_counter()
        try:
            return await self.accountant.reserve(ctx, tokens)
        except BudgetExceeded as exc:
            await self._record(
                operation, task_class, provider, model, "refused", ctx, started, error=str(exc)
            )
            raise

    async def _record(
        self,
        operation: Operation,
        task_class: str,
        provider: str,
        model: str,
        outcome: Any,
        ctx: CallContext,
        started: float,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: float = 0.0,
        error: str | None = None,
    ) -> int:
        latency = int((time.perf_counter() - started) * 1000)
        count_call(operation, provider, str(outcome), tokens_in, tokens_out, cost)
        await self.accountant.record(
            CallRecord(
                operation=operation,
                task_class=task_class,
                provider=provider,
                model=model,
                outcome=outcome,
                context=ctx,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                latency_ms=latency,
                cost_usd=cost,
                error=error,
            )
        )
        return latency

    def _structured(self, entry: RouteEntry, result: ChatResult, schema: dict[str, Any]) -> Any:
        parsed = result.parsed
        if parsed is None:
            text = result.content
            fenced = _FENCE.match(text)
            try:
                parsed = json.loads(fenced.group(1) if fenced else text)
            except json.JSONDecodeError as exc:
                raise ProviderError(
                    entry.provider, entry.model, "bad_response", f"output is not JSON: {exc}"
                ) from exc
            except RecursionError as exc:  # nested deeper than the parser goes
                raise ProviderError(
                    entry.provider, entry.model, "bad_response", "output JSON is nested too deep"
                ) from exc
        try:
            jsonschema.validate(parsed, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "(root)"
            raise ProviderError(
                entry.provider,
                entry.model,
                "bad_response",
                f"output does not match the schema at {where}: {exc.message}",
            ) from exc
        except jsonschema.SchemaError as exc:
            raise ProviderError(
                entry.provider, entry.model, "bad_request", f"invalid JSON schema: {exc.message}"
            ) from exc
        return parsed

    async def _run(
        self,
        operation: Operation,
        task_class: str,
        ctx: CallContext,
        call: ProviderCall,
        json_schema: dict[str, Any] | None,
        prompt_tokens: int,
        max_tokens: int | None,
    ) -> ChatResult:
        entries = self.route(task_class)
        metered = [e for e in entries if self.metered(e)]
        cap = max_tokens or self.config.reserve_output_tokens
        reservation = None
        if metered:
            # Reserved once for the call: only one entry's answer is ever kept and paid for.
            reservation = await self._reserve(
                operation,
                task_class,
                metered[0].provider,
                metered[0].model,
                ctx,
                prompt_tokens + cap,
            )
        bill = _Bill()
        try:
            return await self._attempt(
                operation, task_class, ctx, call, json_schema, entries, cap, bill
            )
        finally:
            if reservation is not None:
                await self.accountant.settle(reservation, bill.tokens)

    async def _attempt(
        self,
        operation: Operation,
        task_class: str,
        ctx: CallContext,
        call: ProviderCall,
        json_schema: dict[str, Any] | None,
        entries: list[RouteEntry],
        cap: int,
        bill: _Bill,
    ) -> ChatResult:
        """The first entry's answer that succeeds; every attempt recorded, and the model
        tokens of every answer received added to ``bill`` (the provider charges for them
        even when the answer is not used)."""
        failures: list[ProviderError] = []
        for entry in entries:
            provider = self.provider(entry.provider)
            metered = self.metered(entry)
            timeout = entry.timeout or self.config.timeout
            for attempt in range(self.config.retries + 1):
                started = time.perf_counter()
                answered: ChatResult | None = None
                try:
                    async with asyncio.timeout(timeout):
                        answered = result = await call(provider, entry, timeout, cap)
                    if metered:
                        bill.tokens += result.tokens_in + result.tokens_out
                        if result.tokens_out > cap:
                            raise await self._overshoot(
                                operation, task_class, ctx, entry, provider, result, cap, started
                            )
                    if json_schema is not None:
                        result.parsed = self._structured(entry, result, json_schema)
                except ProviderError as exc:
                    error = exc
                except TimeoutError:
                    error = ProviderError(
                        entry.provider, entry.model, "timeout", f"no answer within {timeout}s"
                    )
                else:
                    result.provider = entry.provider
                    result.produced_without_llm = not provider.produces_llm_output
                    result.cost_usd = self._cost(provider, entry, result)
                    result.latency_ms = await self._record(
                        operation,
                        task_class,
                        entry.provider,
                        result.model or entry.model,
                        "ok",
                        ctx,
                        started,
                        tokens_in=result.tokens_in,
                        tokens_out=result.tokens_out,
                        cost=result.cost_usd,
                    )
                    return result
                outcome = "timeout" if error.kind == "timeout" else "error"
                # An answer refused after it arrived (not the requested JSON) was paid for.
                paid = answered if metered and answered is not None else ChatResult("")
                await self._record(
                    operation,
                    task_class,
                    entry.provider,
                    entry.model,
                    outcome,
                    ctx,
                    started,
                    tokens_in=paid.tokens_in,
                    tokens_out=paid.tokens_out,
                    cost=self._cost(provider, entry, paid),
                    error=str(error),
                )
                log.warning("LLM %s attempt %d failed: %s", operation, attempt + 1, error)
                if not error.retryable or attempt == self.config.retries:
                    break
                await asyncio.sleep(self._backoff(attempt, error))
            failures.append(error)
        raise AllProvidersFailed(task_class, failures)

    def _cost(self, provider: Provider, entry: RouteEntry, result: ChatResult) -> float:
        return estimate_cost(
            provider.kind,
            entry.model,
            result.tokens_in,
            result.tokens_out,
            entry.price_in_per_mtok,
            entry.price_out_per_mtok,
        )

    async def _overshoot(
        self,
        operation: Operation,
        task_class: str,
        ctx: CallContext,
        entry: RouteEntry,
        provider: Provider,
        result: ChatResult,
        cap: int,
        started: float,
    ) -> ResponseOvershoot:
        """Record an answer longer than ``cap`` (charged, refused) and return its error."""
        model = result.model or entry.model
        error = ResponseOvershoot(
            task_class,
            [
                ProviderError(
                    entry.provider,
                    model,
                    "overshoot",
                    f"answered {result.tokens_out} output tokens where {cap} were allowed",
                )
            ],
            provider=entry.provider,
            model=model,
            allowed=cap,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
        )
        await self._record(
            operation,
            task_class,
            entry.provider,
            model,
            "error",
            ctx,
            started,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost=self._cost(provider, entry, result),
            error=str(error),
        )
        log.warning("LLM %s refused: %s", operation, error)
        return error


@dataclass
class _Bill:
    """Model tokens a call has been answered with, across its attempts."""

    tokens: int = 0
