"""``builtin`` provider: deterministic output composed from templates and the facts given.

It needs no model, so the platform works end to end with nothing configured. Callers pass the
facts their prompt was built from (``facts``) and, optionally, the name of their task; a
composer registered for that task builds the answer (core-api registers one for profile
generation). Without a composer, a JSON schema is filled from the facts, and free text gets a
structured summary of what it was given. Every output says it was produced without an LLM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from phi_llm.config import ProviderConfig
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import register
from phi_llm.types import BUILTIN_LABEL, ChatRequest, ChatResult, estimate_tokens

Composer = Callable[[ChatRequest], "str | dict[str, Any]"]
_COMPOSERS: dict[str, Composer] = {}


def register_composer(task: str, composer: Composer) -> None:
    """Use ``composer`` for builtin calls whose context names ``task``."""
    _COMPOSERS[task] = composer


_ENTRY_POINT_GROUP = "phi_llm.composers"
_entry_points_loaded = False


def composer_for(task: str | None) -> Composer | None:
    """The composer for ``task``: registered in this process, or declared by an installed
    package under the ``phi_llm.composers`` entry-point group (so the router service finds
    the composers of apps it does not import)."""
    global _entry_points_loaded
    if not task:
        return None
    if task not in _COMPOSERS and not _entry_points_loaded:
        from importlib.metadata import entry_points

        _entry_points_loaded = True
        for ep in entry_points(group=_ENTRY_POINT_GROUP):
            _COMPOSERS.setdefault(ep.name, ep.load())
    return _COMPOSERS.get(task)


@register("builtin")
class BuiltinProvider(Provider):
    produces_llm_output = False

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str]) -> None:
        super().__init__(name, config, env)

    async def chat(self, request: ChatRequest) -> ChatResult:
        composer = composer_for(request.task)
        try:
            if composer is not None:
                output = composer(request)
            elif request.json_schema is not None:
                output = fill_schema(request.json_schema, request.facts or {}, summarize(request))
            else:
                output = summarize(request)
        except (KeyError, TypeError, ValueError) as exc:
            raise self.error(
                request.model, "bad_response", f"cannot compose output: {exc}"
            ) from exc
        if isinstance(output, str):
            content, parsed = output, None
        else:
            content, parsed = json.dumps(output, ensure_ascii=False), output
        prompt = "".join(m["content"] for m in request.messages)
        return ChatResult(
            content=content,
            provider=self.name,
            model="builtin",
            tokens_in=estimate_tokens(prompt),
            tokens_out=estimate_tokens(content),
            parsed=parsed,
            produced_without_llm=True,
        )


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _render_fact(value: Any, limit: int = 5) -> str:
    if isinstance(value, list):
        shown = ", ".join(_render_fact(v) for v in value[:limit])
        more = f" (+{len(value) - limit} more)" if len(value) > limit else ""
        return f"{len(value)} item(s): {shown}{more}"
    if isinstance(value, dict):
        return "; ".join(f"{k}={_render_fact(v)}" for k, v in list(value.items())[:limit])
    return str(value)


def summarize(request: ChatRequest, max_points: int = 8) -> str:
    """A structured, deterministic summary of the facts and the last user message."""
    lines = [f"{BUILTIN_LABEL} (no language model was used; this summarises the input as given)."]
    if request.facts:
        lines.append("Facts given:")
        lines += [f"- {key}: {_render_fact(value)}" for key, value in request.facts.items()]
    user_text = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", user_text) if s.strip()]
    if sentences:
        # Sentences carrying figures are usually the ones a reader needs first.
        ranked = sorted(sentences, key=lambda s: (not _NUMBER.search(s), sentences.index(s)))
        lines.append("Key points from the input:")
        lines += [f"- {s}" for s in ranked[:max_points]]
        numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(user_text)]
        stats = f"{len(sentences)} sentence(s), {len(user_text.split())} word(s)"
        if numbers:
            stats += f", {len(numbers)} figure(s) ranging {min(numbers):g} to {max(numbers):g}"
        lines.append(f"Input size: {stats}.")
    return "\n".join(lines)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return _resolve(node, root)
    return schema


def fill_schema(schema: dict[str, Any], facts: Mapping[str, Any], summary: str) -> Any:
    """An instance of ``schema`` built from ``facts`` (matched by property name)."""
    return _fill(schema, schema, facts, summary, hint=None)


def _fill(
    schema: dict[str, Any], root: dict[str, Any], facts: Mapping[str, Any], summary: str, hint: Any
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return hint if hint in schema["enum"] else schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, root).get("type") != "null"]
            if hint is None and len(options) < len(schema[key]):
                return None
            return _fill(options[0] if options else schema[key][0], root, facts, summary, hint)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        if "properties" not in schema and schema.get("additionalProperties") is not False:
            # A bare "some JSON object" request (json_object mode): give the summary.
            return dict(hint) if isinstance(hint, Mapping) else {"summary": summary}
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", props))
        source = hint if isinstance(hint, Mapping) else facts
        return {
            name: _fill(sub, root, facts, summary, source.get(name))
            for name, sub in props.items()
            if name in required or name in source
        }
    if kind == "array":
        items = schema.get("items", {})
        values = list(hint) if isinstance(hint, (list, tuple)) else []
        if not values:
            values = [None] * int(schema.get("minItems", 0))
        if "maxItems" in schema:
            values = values[: int(schema["maxItems"])]
        return [_fill(items, root, facts, summary, v) for v in values]
    if kind in ("integer", "number"):
        if isinstance(hint, (int, float)) and not isinstance(hint, bool):
            return int(hint) if kind == "integer" else hint
        return schema.get("minimum", 0)
    if kind == "boolean":
        return bool(hint) if hint is not None else False
    if kind == "null":
        return None
    text = _render_fact(hint) if hint is not None else summary
    return text.ljust(int(schema.get("minLength", 0)), ".")
