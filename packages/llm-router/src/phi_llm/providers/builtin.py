"""``builtin`` provider: deterministic output composed from templates and the facts given.

It needs no model, so the platform works end to end with nothing configured. Callers pass the
facts their prompt was built from (``facts``) and, optionally, the name of their task; a
composer registered for that task builds the answer (core-api registers one for profile
generation). Without a composer, a JSON schema is filled from the facts (matched by property
name), and free text gets a structured summary of what it was given. A field the facts do not
answer is never made up: the call fails with :class:`BuiltinCannotAnswer`, so the router falls
back or reports why. Every output says it was produced without an LLM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from phi_llm.config import ProviderConfig
from phi_llm.errors import BuiltinCannotAnswer
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
    supports_tools = False

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
        except Unanswerable as exc:
            raise BuiltinCannotAnswer(
                self.name, request.model, f"no facts to answer the requested JSON: {exc}"
            ) from exc
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


class Unanswerable(Exception):
    """A schema field the facts do not answer; the message says where."""


def fill_schema(schema: dict[str, Any], facts: Mapping[str, Any], summary: str) -> Any:
    """An instance of ``schema`` built from ``facts`` (matched by property name).

    Values come only from the facts: a required field with no fact behind it (or a fact that
    does not fit the field) raises :class:`Unanswerable` instead of a made-up number or text.
    A field that may be null is null when unknown; a bare JSON-object request gets the summary.
    """
    return _fill(schema, schema, facts, summary, hint=None, path="(root)", given=True)


def _fill(
    schema: dict[str, Any],
    root: dict[str, Any],
    facts: Mapping[str, Any],
    summary: str,
    hint: Any,
    path: str,
    given: bool,
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, root).get("type") != "null"]
            if hint is None and len(options) < len(schema[key]):
                return None
            errors = []
            for option in options:
                try:
                    return _fill(option, root, facts, summary, hint, path, given)
                except Unanswerable as exc:
                    errors.append(str(exc))
            raise Unanswerable(errors[0] if errors else f"{path}: no option fits")
    kind = schema.get("type")
    nullable = isinstance(kind, list) and "null" in kind
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if hint is None and nullable:
        return None
    if "enum" in schema:
        if hint in schema["enum"]:
            return hint
        raise Unanswerable(f"{path}: no fact gives one of {schema['enum']}")
    if kind == "object" or "properties" in schema:
        if "properties" not in schema and schema.get("additionalProperties") is not False:
            # A bare "some JSON object" request (json_object mode): give the summary.
            return dict(hint) if isinstance(hint, Mapping) else {"summary": summary}
        if not given and not isinstance(hint, Mapping):
            raise Unanswerable(f"{path}: no fact gives this object")
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", props))
        source = hint if isinstance(hint, Mapping) else facts
        return {
            name: _fill(
                sub, root, facts, summary, source.get(name), f"{path}.{name}", name in source
            )
            for name, sub in props.items()
            if name in required or name in source
        }
    if hint is None:
        raise Unanswerable(f"{path}: no fact of that name was given")
    if kind == "array":
        if not isinstance(hint, (list, tuple)):
            raise Unanswerable(f"{path}: the fact is not a list")
        values = list(hint)
        if len(values) < int(schema.get("minItems", 0)):
            raise Unanswerable(f"{path}: {len(values)} item(s) given, {schema['minItems']} needed")
        if "maxItems" in schema:
            values = values[: int(schema["maxItems"])]
        items = schema.get("items", {})
        return [
            _fill(items, root, facts, summary, v, f"{path}.{i}", True) for i, v in enumerate(values)
        ]
    if kind in ("integer", "number"):
        if isinstance(hint, bool) or not isinstance(hint, (int, float)):
            raise Unanswerable(f"{path}: the fact is not a number")
        if kind == "integer" and hint != int(hint):
            raise Unanswerable(f"{path}: the fact {hint} is not a whole number")
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and hint < low) or (high is not None and hint > high):
            raise Unanswerable(f"{path}: the fact {hint} is outside the allowed range")
        return int(hint) if kind == "integer" else hint
    if kind == "boolean":
        if not isinstance(hint, bool):
            raise Unanswerable(f"{path}: the fact is not true or false")
        return hint
    if kind == "null":
        return None
    text = hint if isinstance(hint, str) else _render_fact(hint)
    if len(text) < int(schema.get("minLength", 0)):
        raise Unanswerable(f"{path}: the fact is shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(text) > int(schema["maxLength"]):
        raise Unanswerable(f"{path}: the fact is longer than {schema['maxLength']} characters")
    return text
