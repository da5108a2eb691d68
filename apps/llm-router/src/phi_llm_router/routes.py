"""The endpoints: native /chat, /complete, /embed and OpenAI's /v1 chat, embeddings, models."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request

from phi_llm.types import CallContext
from phi_llm_router.deps import RouterDep, header_context, require_payer
from phi_llm_router.schemas import (
    ChatIn,
    ChatOut,
    CompleteIn,
    EmbedIn,
    EmbedOut,
    OpenAIChatIn,
    OpenAIEmbeddingsIn,
)

router = APIRouter()


@router.post("/chat")
async def chat(body: ChatIn, llm: RouterDep) -> ChatOut:
    result = await llm.chat(
        [m.as_message() for m in body.messages],
        task_class=body.task_class,
        json_schema=body.json_schema,
        schema_name=body.schema_name,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        facts=body.facts,
        context=body.context(),
        tools=[t.as_spec() for t in body.tools] if body.tools else None,
        tool_choice=body.tool_choice,
    )
    return ChatOut.of(result)


@router.get("/routes/{task_class}/tools")
async def route_tools(task_class: str, llm: RouterDep) -> dict[str, Any]:
    """Whether ``task_class`` reaches a provider that calls tools (a model, not builtin
    only): what a service asks before it starts work that needs tool calling."""
    return {"task_class": task_class, "tools": await llm.supports_tools(task_class)}


@router.post("/complete")
async def complete(body: CompleteIn, llm: RouterDep) -> ChatOut:
    result = await llm.complete(
        body.prompt,
        task_class=body.task_class,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        facts=body.facts,
        context=body.context(),
    )
    return ChatOut.of(result)


@router.post("/embed")
async def embed(body: EmbedIn, llm: RouterDep) -> EmbedOut:
    result = await llm.embed(body.texts, input_type=body.input_type, context=body.context())
    return EmbedOut(
        vectors=result.vectors,
        provider=result.provider,
        model=result.model,
        dim=result.dim,
        tokens_in=result.tokens_in,
    )


@router.post("/v1/chat/completions")
async def openai_chat(
    body: OpenAIChatIn,
    request: Request,
    llm: RouterDep,
    context: Annotated[CallContext, Depends(header_context)],
) -> dict[str, Any]:
    require_payer(request, llm, body.model, context)
    if body.stream:
        raise HTTPException(422, "stream=true is not supported by the router; send stream=false")
    schema, name = None, "result"
    fmt = body.response_format
    if fmt is not None and fmt.type == "json_schema":
        if not fmt.json_schema or not isinstance(fmt.json_schema.get("schema"), dict):
            raise HTTPException(
                422, "response_format.json_schema.schema must be a JSON schema object"
            )
        schema, name = fmt.json_schema["schema"], str(fmt.json_schema.get("name") or "result")
    elif fmt is not None and fmt.type == "json_object":
        schema = fmt.schema_ or {"type": "object"}
    result = await llm.chat(
        [m.as_message() for m in body.messages],
        task_class=body.model,
        json_schema=schema,
        schema_name=name,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        context=context,
        tools=[t.as_spec() for t in body.tools] if body.tools else None,
        tool_choice=body.tool_choice,
    )
    message: dict[str, Any] = {"role": "assistant", "content": result.content}
    finish = result.finish_reason if result.finish_reason in ("stop", "length") else "stop"
    if result.tool_calls:
        message["tool_calls"] = [dict(c) for c in result.tool_calls]
        message["content"] = result.content or None
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"{result.provider}/{result.model}",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": result.tokens_in,
            "completion_tokens": result.tokens_out,
            "total_tokens": result.tokens_in + result.tokens_out,
        },
        "phi": {"task_class": body.model, "produced_without_llm": result.produced_without_llm},
    }


@router.post("/v1/embeddings")
async def openai_embeddings(
    body: OpenAIEmbeddingsIn,
    request: Request,
    llm: RouterDep,
    context: Annotated[CallContext, Depends(header_context)],
) -> dict[str, Any]:
    require_payer(request, llm, "embed", context)
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or len(texts) > 2048:
        raise HTTPException(422, "input must hold 1 to 2048 strings")
    result = await llm.embed(texts, input_type=body.input_type, context=context)

    def encode(vector: list[float]) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return vector

    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(v)}
            for i, v in enumerate(result.vectors)
        ],
        "model": result.model,
        "usage": {"prompt_tokens": result.tokens_in, "total_tokens": result.tokens_in},
    }


@router.get("/v1/models")
async def openai_models(llm: RouterDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "phi-llm-router"}
            for name in llm.model_names()
        ],
    }
