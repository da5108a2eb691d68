"""SQLAlchemy 2.0 models for every table of the platform.

Every org-scoped table carries ``org_id`` so that queries can filter on the tenant without
joins, and each such column is indexed. ``updated_at`` columns are kept current by a trigger
(see the first migration), so raw SQL updates keep them right too.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("uuidv7()"))


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


ORG_ROLES = ("OWNER", "ADMIN", "MEMBER")
AGENT_STATUSES = ("ACTIVE", "DISABLED")
SOURCE_TYPES = ("JD", "SOP", "POLICY", "MANUAL", "OTHER")
DOCUMENT_STATUSES = ("PENDING", "PROCESSING", "READY", "FAILED")
LOCAL_AGENT_STATUSES = ("ENROLLED", "ACTIVE", "OFFLINE")
TASK_STATUSES = (
    "PENDING",
    "RUNNING",
    "WAITING",
    "AWAITING_APPROVAL",
    "SUCCESS",
    "FAILED",
    "CANCELLED",
)
TASK_FINISHED_STATUSES = ("SUCCESS", "FAILED", "CANCELLED")
TASK_TRIGGERS = ("manual", "schedule", "agent_task")
TOOL_CALL_STATUSES = ("PENDING", "CLAIMED", "DONE", "FAILED", "CANCELLED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _pk()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    # Emails are unique regardless of case.
    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = _pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Optional cap on LLM tokens (in + out) per calendar month; NULL means no cap.
    monthly_token_budget: Mapped[int | None] = mapped_column(BigInteger)
    # IANA zone in which the org's agent schedules (cron) are read.
    time_zone: Mapped[str] = mapped_column(Text, nullable=False, server_default="UTC")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class OrganizationMember(Base):
    __tablename__ = "organization_members"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_org_member"),
        CheckConstraint(_in("role", ORG_ROLES), name="ck_org_member_role"),
    )


class OrganizationInvitation(Base):
    """An open invitation to join an organization, addressed to an email (lower-cased); the
    account with that email accepts or declines it."""

    __tablename__ = "organization_invitations"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (
        UniqueConstraint("org_id", "email", name="uq_org_invitation_email"),
        Index("ix_org_invitations_email", "email"),
        CheckConstraint(_in("role", ORG_ROLES), name="ck_org_invitation_role"),
    )


class Industry(Base):
    __tablename__ = "industries"
    id: Mapped[uuid.UUID] = _pk()
    key: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)


class RoleTemplate(Base):
    __tablename__ = "role_templates"
    id: Mapped[uuid.UUID] = _pk()
    industry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("industries.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    default_capabilities: Mapped[list[Any] | None] = mapped_column(JSONB)
    default_tools: Mapped[list[Any] | None] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)
    # Instructions a person could give an agent of this role (suggestions in the web app).
    example_tasks: Mapped[list[Any] | None] = mapped_column(JSONB)
    __table_args__ = (UniqueConstraint("industry_id", "key", name="uq_role_template_key"),)


class Tool(Base):
    __tablename__ = "tools"
    id: Mapped[uuid.UUID] = _pk()
    key: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    config_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    default_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    industry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("industries.id"))
    role_template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("role_templates.id"))
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="ACTIVE")
    system_prompt: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        Index("ix_agents_org_created", "org_id", "created_at"),
        CheckConstraint(_in("status", AGENT_STATUSES), name="ck_agent_status"),
    )


class AgentTool(Base):
    __tablename__ = "agent_tools"
    id: Mapped[uuid.UUID] = _pk()
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )
    tool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tools.id"), nullable=False)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = (UniqueConstraint("agent_id", "tool_id", name="uq_agent_tool"),)


class AgentProfileVersion(Base):
    """A generated (or restored) profile of an agent; the newest applied one is live."""

    __tablename__ = "agent_profile_versions"
    id: Mapped[uuid.UUID] = _pk()
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    system_prompt: Mapped[str] = mapped_column(Text, nullable=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    __table_args__ = (UniqueConstraint("agent_id", "version", name="uq_profile_version"),)


class ProfileGeneration(Base):
    """A request to generate a profile, run as a background job."""

    __tablename__ = "profile_generations"
    id: Mapped[uuid.UUID] = _pk()
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    error: Mapped[str | None] = mapped_column(Text)
    profile_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent_profile_versions.id", ondelete="SET NULL")
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    # NULL: an org-wide document every agent of the org can search. Deleting an agent deletes
    # its own documents rather than silently turning them into org-wide ones.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text, nullable=False)
    source_type: Mapped[str] = mapped_column(Text, nullable=False)
    storage_path: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    error: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        Index("ix_documents_org_agent", "org_id", "agent_id"),
        Index("ix_documents_agent", "agent_id"),
        CheckConstraint(_in("source_type", SOURCE_TYPES), name="ck_document_source_type"),
        CheckConstraint(_in("status", DOCUMENT_STATUSES), name="ck_document_status"),
    )


def embedding_column(dim: int) -> Mapped[Any]:
    return mapped_column(Vector(dim))


class DocumentChunk(Base):
    __tablename__ = "document_chunks"
    id: Mapped[uuid.UUID] = _pk()
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    chunk_text: Mapped[str] = mapped_column(Text, nullable=False)
    # Dimension is fixed by the migration from the embedding settings; the ORM does not
    # need to know it (it never creates tables itself).
    embedding: Mapped[Any | None] = mapped_column(Vector(), nullable=True)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = _created()


class DocumentUnit(Base):
    """A small part of a chunk (a list item, a group of sentences) that search matches on;
    offsets are inside the chunk's text (migration 0008)."""

    __tablename__ = "document_units"
    id: Mapped[uuid.UUID] = _pk()
    chunk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document_chunks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    unit_index: Mapped[int] = mapped_column(Integer, nullable=False)
    char_start: Mapped[int] = mapped_column(Integer, nullable=False)
    char_end: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_text: Mapped[str] = mapped_column(Text, nullable=False)
    heading_path: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    embedding: Mapped[Any | None] = mapped_column(Vector(), nullable=True)


MEMORY_SOURCES = ("task", "user")
# Outside the class: its ``text`` column would hide sqlalchemy's text() there.
_HAS_REPORT_DAY = text("report_day IS NOT NULL")


class Memory(Base):
    """A short fact an agent (``agent_id``) or its whole organization (``agent_id`` NULL)
    keeps, with where it came from (migration 0013; searched by ``phi_search.memory``)."""

    __tablename__ = "memories"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    embedding: Mapped[Any | None] = mapped_column(Vector(), nullable=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL")
    )
    source_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The day a report memory is about: one per agent and day.
    report_day: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        Index("ix_memories_org_agent_created", "org_id", "agent_id", "created_at", "id"),
        Index(
            "uq_memories_agent_report_day",
            "agent_id",
            "report_day",
            unique=True,
            postgresql_where=_HAS_REPORT_DAY,
        ),
        CheckConstraint(_in("source", MEMORY_SOURCES), name="ck_memory_source"),
    )


class LocalAgent(Base):
    __tablename__ = "local_agents"
    id: Mapped[uuid.UUID] = _pk()
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="ENROLLED")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    host: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    # Tools enabled by the local policy; only calls for these are handed to this local agent.
    tools: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, server_default="[]")
    # The last `phi-agent contract check` the agent reported (phi_agent_config.contract_report).
    contract_check: Mapped[list[Any] | None] = mapped_column(JSONB)
    key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("local_agent_keys.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        CheckConstraint(_in("status", LOCAL_AGENT_STATUSES), name="ck_local_agent_status"),
    )


class LocalAgentKey(Base):
    """A key a local agent presents as its bearer token; only the secret's SHA-256 is kept."""

    __tablename__ = "local_agent_keys"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_local_agent_keys_org", "org_id"),
        Index("ix_local_agent_keys_agent", "agent_id", "created_at"),
    )


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[uuid.UUID] = _pk()
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    input: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(Text, nullable=False, server_default="manual")
    # The cron slot a scheduled run belongs to (unique per agent and type).
    schedule_slot: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Tells apart scheduled agent tasks of one slot (a digest of the instruction; '' else).
    schedule_key: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Started by an agent task's run_workflow call (once per parent and step).
    parent_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL")
    )
    parent_step: Mapped[str | None] = mapped_column(Text)
    # For such a task: when its parent stops waiting for it (unfinished then, it is cancelled).
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        Index("ix_tasks_deadline", "deadline_at", postgresql_where=text("deadline_at IS NOT NULL")),
        Index(
            "uq_tasks_parent_step",
            "parent_task_id",
            "parent_step",
            unique=True,
            postgresql_where=text("parent_task_id IS NOT NULL"),
        ),
        Index("ix_tasks_org_created", "org_id", "created_at"),
        Index("ix_tasks_agent_created", "agent_id", text("created_at DESC"), text("id DESC")),
        Index("ix_tasks_finished", "finished_at", postgresql_where=text("finished_at IS NOT NULL")),
        Index(
            "uq_tasks_schedule_slot",
            "agent_id",
            "type",
            "schedule_slot",
            "schedule_key",
            unique=True,
            postgresql_where=text("schedule_slot IS NOT NULL"),
        ),
        CheckConstraint(_in("status", TASK_STATUSES), name="ck_task_status"),
        CheckConstraint(_in("trigger", TASK_TRIGGERS), name="ck_task_trigger"),
    )


class TaskEvent(Base):
    __tablename__ = "task_events"
    id: Mapped[uuid.UUID] = _pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    timestamp: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Order of events, and the id a stream resumes from (Last-Event-ID).
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), nullable=False)
    __table_args__ = (
        Index("ix_task_events_task_time", "task_id", "timestamp"),
        Index("uq_task_events_task_seq", "task_id", "seq", unique=True),
    )


class ToolCall(Base):
    """A request to the agent's local agent (db, file...), claimed with a lease."""

    __tablename__ = "tool_calls"
    id: Mapped[uuid.UUID] = _pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )
    step: Mapped[str] = mapped_column(Text, nullable=False)
    tool: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    local_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("local_agents.id", ondelete="SET NULL")
    )
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The result's JSON text compressed with zstd by the orchestrator, stored as it is
    # (megabytes for a report, never queried inside; migration 0024).
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_sha256: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An agent task's time limit for the call: still open then, it fails.
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        UniqueConstraint("task_id", "step", name="uq_tool_call_step"),
        Index("ix_tool_calls_org", "org_id"),
        Index(
            "ix_tool_calls_open",
            "agent_id",
            "created_at",
            postgresql_where=text("status IN ('PENDING', 'CLAIMED')"),
        ),
        CheckConstraint(_in("status", TOOL_CALL_STATUSES), name="ck_tool_call_status"),
    )


class LoginThrottle(Base):
    """Failed sign-in counters per account and per client address."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    window_started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Account keys: their delay starts over only after a window without failures.
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginKnownAddress(Base):
    """An address an account signed in or signed up from; a valid password from it skips
    the account's sign-in delay (see the core API's auth service)."""

    __tablename__ = "login_known_addresses"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(Text, primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    __table_args__ = (Index("ix_login_known_addresses_last_seen", "last_seen_at"),)


class IdempotencyKey(Base):
    """A create request sent with an ``Idempotency-Key`` header, per account: the first
    request's answer is stored so a retry (a double click, a client retrying after a lost
    answer) gets that answer instead of creating a second thing (``phi_service.idempotency``)."""

    __tablename__ = "idempotency_keys"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    # Method, path and body of the first request: the same key with another request is refused.
    request_sha256: Mapped[str] = mapped_column(Text, nullable=False)
    # NULL until the first request has its answer.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class LlmCall(Base):
    """One call through the LLM router, for accounting and budgets."""

    __tablename__ = "llm_calls"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    operation: Mapped[str] = mapped_column(Text, nullable=False)  # chat | complete | embed
    task_class: Mapped[str] = mapped_column(Text, nullable=False)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    tokens_in: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    tokens_out: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    outcome: Mapped[str] = mapped_column(Text, nullable=False)  # ok | error | timeout | refused
    error: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[float] = mapped_column(Numeric(12, 6), nullable=False, server_default="0")
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_llm_calls_org_created", "org_id", "created_at"),)


class LlmTokenUsage(Base):
    """Model tokens an organization has used (settled) or reserved (calls in flight) in one
    calendar month (UTC). The router reserves a call's estimate here with one conditional
    UPDATE before calling a model, so concurrent calls cannot overspend the budget."""

    __tablename__ = "llm_token_usage"
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # The budget at which the month's calls were stopped (usage reached it); calls stay
    # refused until the organization's budget is raised above it.
    stopped_at_budget: Mapped[int | None] = mapped_column(BigInteger)


AUDIT_ACTOR_TYPES = (
    "user",
    "local_agent",
    "schedule",
    "platform_admin",
    "anonymous",
    "task",
    "system",
)


class AuditEvent(Base):
    """One recorded change in an organization (see migration 0012). Append-only: the database
    refuses UPDATE, DELETE and TRUNCATE; old rows leave through ``purge_audit_events()`` only.
    Written through ``phi_service.audit.record_event``, which whitelists the details."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # No foreign keys: deleting an org or a user must not erase (or be blocked by) its history.
    org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    actor_type: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_label: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str | None] = mapped_column(Text)
    target_id: Mapped[str | None] = mapped_column(Text)
    target_label: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    request_id: Mapped[str | None] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_in("actor_type", AUDIT_ACTOR_TYPES), name="ck_audit_actor_type"),
        Index("ix_audit_events_org_time", "org_id", text("occurred_at DESC"), text("id DESC")),
        Index("ix_audit_events_time", "occurred_at", "id"),
    )


ORG_SCOPED_UPDATED_TABLES = (
    "users",
    "organizations",
    "organization_members",
    "agents",
    "profile_generations",
    "documents",
    "local_agents",
    "tasks",
)


DELIVERY_KINDS = ("email", "webhook")
DELIVERY_FORMATS = ("json", "slack", "email")
DELIVERY_STATUSES = ("PENDING", "DELIVERED", "FAILING", "GIVEN_UP")


class DeliveryDestination(Base):
    """Where an agent's results of one workflow type are sent (its ``deliver_to``)."""

    __tablename__ = "delivery_destinations"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )
    workflow_type: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False)
    format: Mapped[str] = mapped_column(Text, nullable=False, server_default="json")
    # A webhook's HMAC key, encrypted with PHI_SECRETS_KEY (phi_platform.secret_box): an
    # HMAC needs the key itself, so it cannot be a hash.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    __table_args__ = (
        Index("ix_delivery_destinations_org", "org_id"),
        UniqueConstraint(
            "agent_id", "workflow_type", "kind", "target", name="uq_delivery_destination"
        ),
        CheckConstraint(_in("kind", DELIVERY_KINDS), name="ck_delivery_destination_kind"),
        CheckConstraint(_in("format", DELIVERY_FORMATS), name="ck_delivery_format"),
    )


class Delivery(Base):
    """One task's result sent to one destination (unique per task and destination)."""

    __tablename__ = "deliveries"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    destination_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("delivery_destinations.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False)
    format: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    __table_args__ = (
        Index("ix_deliveries_org", "org_id"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('PENDING', 'FAILING')"),
        ),
        UniqueConstraint("task_id", "destination_id", name="uq_delivery_task_destination"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="ck_delivery_status"),
    )


class DeliveryAttempt(Base):
    """One attempt of a delivery; ``outcome`` is NULL while it runs."""

    __tablename__ = "delivery_attempts"
    id: Mapped[uuid.UUID] = _pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_delivery_attempts_org", "org_id"),
        UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempt"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('delivered', 'failed', 'interrupted')",
            name="ck_delivery_attempt_outcome",
        ),
    )
