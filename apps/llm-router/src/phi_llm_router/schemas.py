"""The service's request and response bodies: the native ones and OpenAI's."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from phi_llm.types import CallContext, ChatResult, Message, ToolCall


class StrictModel(BaseModel):
    """Unknown fields are refused (422 naming them): a misspelled option must not be dropped
    and the call run without it."""

    model_config = ConfigDict(extra="forbid")


class MessageIn(StrictModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    # Parts of OpenAI's message shape that the router does not use but clients send.
    name: str | None = Field(default=None, max_length=256)
    tool_call_id: str | None = Field(default=None, max_length=256)
    tool_calls: list[dict[str, Any]] | None = None

    def as_message(self) -> Message:
        content = self.content
        if isinstance(content, list):
            content = "".join(
                str(part.get("text", "")) for part in content if part.get("type") == "text"
            )
        message: Message = {
            "role": "system" if self.role == "developer" else self.role,
            "content": content or "",
        }
        # A tool-calling conversation: the model's calls, and the results that answer them.
        if self.tool_calls:
            message["tool_calls"] = [
                call.as_call() for call in map(ToolCallIn.model_validate, self.tool_calls)
            ]
        if self.tool_call_id:
            message["tool_call_id"] = self.tool_call_id
        if self.name and self.role == "tool":
            message["name"] = self.name
        return message


class ToolFunctionIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(default="", max_length=1_000_000)


class ToolCallIn(BaseModel):
    """A call the model made earlier in the conversation, sent back with its result."""

    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: ToolFunctionIn

    def as_call(self) -> ToolCall:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.function.name, "arguments": self.function.arguments},
        }


class FunctionSpec(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = Field(default=None, max_length=10_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    strict: bool | None = None


class ToolSpec(StrictModel):
    """A tool offered to the model (OpenAI's shape); its parameters are a JSON Schema."""

    type: Literal["function"] = "function"
    function: FunctionSpec

    def as_spec(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


ToolChoice = Literal["auto", "none", "required"] | dict[str, Any]


def tool_choice_of(choice: ToolChoice | None, tools: list[ToolSpec] | None) -> ToolChoice | None:
    """The choice to pass on, checked: a named function must be one of ``tools``."""
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if choice.get("type") != "function" or not isinstance(name, str):
            raise ValueError(
                'tool_choice must be "auto", "none", "required" or '
                '{"type": "function", "function": {"name": ...}}'
            )
        if not tools or name not in {t.function.name for t in tools}:
            raise ValueError(f"tool_choice names '{name}', which is not among tools")
    elif choice is not None and not tools:
        raise ValueError("tool_choice needs tools")
    return choice


class ContextIn(StrictModel):
    org_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    task: str | None = Field(default=None, max_length=100)

    def context(self) -> CallContext:
        return CallContext(self.org_id, self.agent_id, self.task_id, self.task)


class ChatIn(ContextIn):
    messages: list[MessageIn] = Field(min_length=1, max_length=500)
    task_class: str = Field(default="default", min_length=1, max_length=200)
    json_schema: dict[str, Any] | None = None
    schema_name: str = Field(default="result", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    facts: dict[str, Any] | None = None
    tools: list[ToolSpec] | None = Field(default=None, max_length=128)
    tool_choice: ToolChoice | None = None

    @model_validator(mode="after")
    def _choice(self) -> ChatIn:
        tool_choice_of(self.tool_choice, self.tools)
        return self


class CompleteIn(ContextIn):
    prompt: str = Field(min_length=1, max_length=1_000_000)
    task_class: str = Field(default="default", min_length=1, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    facts: dict[str, Any] | None = None


class EmbedIn(ContextIn):
    texts: list[str] = Field(min_length=1, max_length=2048)
    input_type: Literal["passage", "query"] = "passage"


class ChatOut(BaseModel):
    content: str
    parsed: Any = None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    cost_usd: float
    finish_reason: str
    produced_without_llm: bool
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def of(cls, r: ChatResult) -> ChatOut:
        return cls(
            content=r.content,
            parsed=r.parsed,
            provider=r.provider,
            model=r.model,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            latency_ms=r.latency_ms,
            cost_usd=r.cost_usd,
            finish_reason=r.finish_reason,
            produced_without_llm=r.produced_without_llm,
            tool_calls=[dict(c) for c in r.tool_calls],
        )


class EmbedOut(BaseModel):
    vectors: list[list[float]]
    provider: str
    model: str
    dim: int
    tokens_in: int


class ResponseFormat(StrictModel):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    # llama.cpp-style {"type": "json_object", "schema": {...}}
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class OpenAIChatIn(StrictModel):
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=500)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    response_format: ResponseFormat | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)
    tools: list[ToolSpec] | None = Field(default=None, max_length=128)
    tool_choice: ToolChoice | None = None
    # One call at a time is what the router returns anyway; accepted, not passed on.
    parallel_tool_calls: bool | None = None
    # Sampling and bookkeeping options OpenAI clients send; accepted and not passed on.
    # Anything else (functions, a misspelled response_format...) is refused with 422.
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = Field(default=None, max_length=256)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None

    @model_validator(mode="after")
    def _choice(self) -> OpenAIChatIn:
        tool_choice_of(self.tool_choice, self.tools)
        return self


class OpenAIEmbeddingsIn(StrictModel):
    model: str = Field(min_length=1, max_length=200)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    # Not in OpenAI's API: e5-style models embed queries and passages differently.
    input_type: Literal["passage", "query"] = "passage"
    user: str | None = Field(default=None, max_length=256)
