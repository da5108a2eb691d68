"""The profile generation pipeline run by the ``generate_profile`` job: gather the facts and
documents, ask the router, validate, save the version and make it live."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_agent_config import SCHEDULABLE_WORKFLOW_TYPES, WORKFLOW_TYPES
from phi_core_api.profiles.runnable import runnable_profile
from phi_core_api.profiles.schemas import GeneratedProfile, profile_json_schema
from phi_core_api.profiles.service import PROFILE_TASK_CLASS, save_version
from phi_llm import (
    AllProvidersFailed,
    BudgetExceeded,
    CallContext,
    LLMError,
    LLMRouter,
    Message,
)
from phi_platform.db.models import (
    Agent,
    AgentTool,
    Industry,
    ProfileGeneration,
    RoleTemplate,
    Tool,
)
from phi_service.audit import Actor, Target, record_event

logger = logging.getLogger(__name__)

COMPOSER_TASK = "generate_profile"  # the builtin composer's name (see composer.py)
# Most output tokens a profile may take: the router cuts answers at the call's max_tokens
# (PHI_LLM_RESERVE_OUTPUT_TOKENS, 1024, when none is given), and a profile of a role with
# several documents is JSON longer than that; a cut one would not parse.
PROFILE_MAX_OUTPUT_TOKENS = 4096
SOURCE_PRIORITY = ("JD", "SOP", "POLICY", "MANUAL", "OTHER")
# Chunks per document and in all handed to the builtin composer; a model sees only the sample.
COMPOSER_CHUNKS_PER_DOC = 20
COMPOSER_CHUNKS = 80

SYSTEM_PROMPT = """You are building a virtual employee for a company. From the industry, the \
role template, the agent's tools and excerpts of the company's own documents, write the agent's \
profile as JSON that matches the given schema:
- system_prompt: instructions to the agent in the second person ("You are ..."), reflecting the \
duties, rules and safety constraints of the documents;
- capabilities: short phrases;
- duties: what the job involves, each citing the document (and page) it came from;
- workflows: work the agent runs, each with a type from known_workflow_types, a description \
and a five-field cron schedule (minute hour day month weekday), or null when it runs on demand; \
only the scheduled types may have a schedule;
- schedule_suggestions: other recurring work the documents state, with its cron and the reason \
it is not scheduled (no workflow type runs it);
- tool_usage_rules: how each tool may be used; the tool must be one of the known tools;
- safety_constraints: what the agent must never do, citing the document where there is one.
Numbers in the agent's reports must always come from data; say so in the system prompt."""


class ProfileRejected(Exception):
    """The generated profile failed validation (after the retry)."""


@dataclass
class ProfileContext:
    facts: dict[str, Any]
    messages: list[Message]
    known_tools: list[str]
    warnings: list[str] = field(default_factory=list)


async def _documents(session: AsyncSession, agent: Agent) -> tuple[list[dict[str, Any]], int]:
    """READY documents of the agent and its org (JDs and SOPs first), with their first chunks;
    and how many are still being processed."""
    rows = (
        await session.execute(
            text(
                """
                SELECT d.id, d.name, d.source_type, c.chunk_index, c.chunk_text, c.metadata
                FROM documents d
                JOIN LATERAL (
                    SELECT chunk_index, chunk_text, metadata FROM document_chunks
                    WHERE document_id = d.id ORDER BY chunk_index LIMIT :per_doc
                ) c ON true
                WHERE d.org_id = :org AND (d.agent_id = :agent OR d.agent_id IS NULL)
                  AND d.status = 'READY'
                ORDER BY array_position(CAST(:priority AS text[]), d.source_type),
                         d.agent_id NULLS LAST, d.created_at, c.chunk_index
                """
            ),
            {
                "org": agent.org_id,
                "agent": agent.id,
                "per_doc": COMPOSER_CHUNKS_PER_DOC,
                "priority": list(SOURCE_PRIORITY),
            },
        )
    ).all()
    docs: dict[uuid.UUID, dict[str, Any]] = {}
    total = 0
    for doc_id, name, source_type, index, chunk_text, meta in rows:
        if total >= COMPOSER_CHUNKS:
            break
        doc = docs.setdefault(
            doc_id, {"id": str(doc_id), "name": name, "source_type": source_type, "chunks": []}
        )
        doc["chunks"].append(chunk_fact(index, chunk_text, meta or {}))
        total += 1
    pending = await session.scalar(
        text(
            "SELECT count(*) FROM documents WHERE org_id = :org AND "
            "(agent_id = :agent OR agent_id IS NULL) AND status IN ('PENDING', 'PROCESSING')"
        ),
        {"org": agent.org_id, "agent": agent.id},
    )
    return list(docs.values()), int(pending or 0)


def chunk_fact(index: int, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """A chunk as the composer reads it: its text, page, the headings it starts under and its
    offsets in the document (so the overlap between chunks is read once)."""
    return {
        "index": index,
        "text": text,
        "page": metadata.get("page"),
        "page_end": metadata.get("page_end"),
        "heading_path": metadata.get("heading_path") or [],
        "char_start": metadata.get("char_start"),
        "char_end": metadata.get("char_end"),
    }


def sample_chunks(
    documents: list[dict[str, Any]], limit: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Up to ``limit`` chunks spread over the documents: one from each per round, in
    priority order, so JDs and SOPs come first and no single document fills the sample."""
    sample: list[tuple[dict[str, Any], dict[str, Any]]] = []
    depth = max((len(d["chunks"]) for d in documents), default=0)
    for round_ in range(depth):
        for doc in documents:
            if round_ < len(doc["chunks"]) and len(sample) < limit:
                sample.append((doc, doc["chunks"][round_]))
    return sample


async def gather_context(session: AsyncSession, agent: Agent, sample_size: int) -> ProfileContext:
    industry = await session.get(Industry, agent.industry_id) if agent.industry_id else None
    role = (
        await session.get(RoleTemplate, agent.role_template_id) if agent.role_template_id else None
    )
    tool_rows = (
        await session.execute(
            select(Tool)
            .join(AgentTool, AgentTool.tool_id == Tool.id)
            .where(AgentTool.agent_id == agent.id)
            .order_by(Tool.key)
        )
    ).scalars()
    tools = [{"key": t.key, "name": t.name, "description": t.description} for t in tool_rows]
    known_tools = sorted(await session.scalars(select(Tool.key)))
    documents, pending = await _documents(session, agent)

    warnings = []
    if agent.status == "DISABLED":
        warnings.append(
            "the agent is DISABLED: the profile is saved, but it runs only once enabled"
        )
    if not documents:
        warnings.append(
            "no processed documents: the profile comes from the role template and industry only; "
            "upload JDs and SOPs for a profile that reflects your company"
        )
    if pending:
        warnings.append(f"{pending} document(s) still processing were not used")

    facts = {
        "agent": {"name": agent.name, "status": agent.status},
        "industry": {
            "key": industry.key,
            "name": industry.name,
            "description": industry.description,
        }
        if industry
        else None,
        "role": {
            "key": role.key,
            "name": role.name,
            "description": role.description,
            "default_capabilities": role.default_capabilities or [],
            "default_tools": role.default_tools or [],
        }
        if role
        else None,
        "tools": tools,
        "known_tools": known_tools,
        "known_workflow_types": {
            "scheduled": sorted(SCHEDULABLE_WORKFLOW_TYPES),
            "on_request": sorted(WORKFLOW_TYPES - SCHEDULABLE_WORKFLOW_TYPES),
        },
        "documents": documents,
    }
    excerpts = [
        f"[{doc['name']} ({doc['source_type']}"
        + (f", page {chunk['page']}" if chunk.get("page") else "")
        + f")]\n{chunk['text']}"
        for doc, chunk in sample_chunks(documents, sample_size)
    ]
    context = {k: v for k, v in facts.items() if k != "documents"}
    user = (
        "Context of the agent:\n"
        + json.dumps(context, indent=1, ensure_ascii=False)
        + "\n\nExcerpts of the company's documents:\n\n"
        + ("\n\n".join(excerpts) if excerpts else "(none uploaded yet)")
    )
    messages: list[Message] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
    return ProfileContext(facts, messages, known_tools, warnings)


def validate_profile(data: Any, known_tools: list[str]) -> GeneratedProfile:
    """The profile as a model, or ProfileRejected naming every problem found."""
    try:
        profile = GeneratedProfile.model_validate(data)
        profile = GeneratedProfile.model_validate(runnable_profile(profile.model_dump()))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()[:8]
        )
        raise ProfileRejected(problems) from exc
    unknown = [
        f"tool_usage_rules.{i}.tool: unknown tool '{r.tool}' (known: {', '.join(known_tools)})"
        for i, r in enumerate(profile.tool_usage_rules)
        if r.tool not in known_tools
    ]
    if unknown:
        raise ProfileRejected("; ".join(unknown))
    return profile


async def generate(
    router: LLMRouter, ctx: ProfileContext, call: CallContext
) -> tuple[GeneratedProfile, Any]:
    """Ask the router (class ``heavy``); a rejected answer is retried once, with the reason."""
    schema = profile_json_schema()
    messages = list(ctx.messages)
    facts = dict(ctx.facts)
    first_error = None
    for attempt in (1, 2):
        result = await router.chat(
            messages,
            task_class=PROFILE_TASK_CLASS,
            json_schema=schema,
            schema_name="agent_profile",
            max_tokens=PROFILE_MAX_OUTPUT_TOKENS,
            temperature=0.2,
            facts=facts,
            context=call,
        )
        try:
            return validate_profile(result.parsed, ctx.known_tools), result
        except ProfileRejected as exc:
            if attempt == 2:
                raise ProfileRejected(
                    f"the generated profile was invalid twice: first {first_error}; then {exc}"
                ) from exc
            first_error = str(exc)
            logger.warning("profile rejected, retrying once: %s", exc)
            messages += [
                {"role": "assistant", "content": result.content},
                {
                    "role": "user",
                    "content": f"That profile was rejected: {exc}. Return the corrected JSON only.",
                },
            ]
            facts["previous_error"] = first_error
    raise AssertionError("unreachable")


async def fail_generation(
    sessionmaker: async_sessionmaker[AsyncSession], generation_id: uuid.UUID, error: str
) -> None:
    """Mark a generation FAILED with ``error`` (the reason the user reads)."""
    async with sessionmaker() as session:
        generation = await session.get(ProfileGeneration, generation_id)
        if generation is not None:
            generation.status = "FAILED"
            generation.error = error[:4000]
            await session.commit()


async def run_generation(
    sessionmaker: async_sessionmaker[AsyncSession],
    router: LLMRouter,
    generation_id: uuid.UUID,
    sample_size: int = 10,
) -> None:
    """The job: gather context, generate, validate, then save version + agent in one commit."""
    async with sessionmaker() as session:
        generation = await session.get(ProfileGeneration, generation_id)
        if generation is None or generation.status in ("SUCCEEDED", "FAILED"):
            return  # deleted with its agent, or already done by an earlier run of this job
        agent = await session.get(Agent, generation.agent_id)
        if agent is None:
            return
        generation.status = "RUNNING"
        generation.error = None
        await session.commit()
        ctx = await gather_context(session, agent, sample_size)
        call = CallContext(org_id=agent.org_id, agent_id=agent.id, task=COMPOSER_TASK)

    try:
        profile, result = await generate(router, ctx, call)
    except ProfileRejected as exc:
        await fail_generation(sessionmaker, generation_id, str(exc))
        return
    except AllProvidersFailed as exc:
        await fail_generation(
            sessionmaker, generation_id, f"LLM provider error ({exc.http_status}): {exc}"
        )
        return
    except BudgetExceeded as exc:
        await fail_generation(sessionmaker, generation_id, f"refused (429): {exc}")
        return
    except LLMError as exc:
        await fail_generation(sessionmaker, generation_id, f"LLM router error: {exc}")
        return

    stored = profile.model_dump(mode="json")
    stored.update(
        produced_without_llm=result.produced_without_llm,
        warnings=ctx.warnings,
        documents=[
            {"id": d["id"], "name": d["name"], "source_type": d["source_type"]}
            for d in ctx.facts["documents"]
        ],
    )
    async with sessionmaker() as session:
        agent = await session.get(Agent, generation.agent_id, with_for_update=True)
        generation = await session.get(ProfileGeneration, generation_id)
        if agent is None or generation is None:
            return
        version = await save_version(
            session,
            agent,
            profile.system_prompt,
            stored,
            result.provider,
            result.model,
            generation.requested_by,
        )
        generation.status = "SUCCEEDED"
        generation.profile_version_id = version.id
        if generation.requested_by is not None:
            await record_event(
                session,
                agent.org_id,
                Actor.user(generation.requested_by),
                "profile.generated",
                Target("agent", agent.id, agent.name),
                version=version.version,
                without_llm=result.produced_without_llm,
            )
        await session.commit()
