"""orchestrator: tool calls, local-agent keys, task columns, LangGraph checkpoint tables

Revision ID: 0005
Revises: 0004

The LangGraph Postgres checkpointer's tables are created here rather than by its ``setup()``
at start-up, so that every process agrees on one schema history. The statements are those of
``langgraph.checkpoint.postgres.base.MIGRATIONS`` in the pinned langgraph-checkpoint-postgres
3.2.0 (indexes built without CONCURRENTLY, which cannot run inside a migration's transaction),
and ``checkpoint_migrations`` records them as applied so that a ``setup()`` call is a no-op.
A test compares the count with the installed library, so an upgrade of it is noticed.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"

# Number of entries in MIGRATIONS of langgraph-checkpoint-postgres 3.2.0.
CHECKPOINT_MIGRATIONS = 10

UPGRADE = [
    # -- tasks: timing, how they were started, the schedule slot that started them ----------
    "ALTER TABLE tasks ADD COLUMN started_at timestamptz",
    "ALTER TABLE tasks ADD COLUMN finished_at timestamptz",
    "ALTER TABLE tasks ADD COLUMN trigger text NOT NULL DEFAULT 'manual'",
    "ALTER TABLE tasks ADD COLUMN schedule_slot timestamptz",
    "ALTER TABLE tasks ADD COLUMN created_by uuid REFERENCES users(id) ON DELETE SET NULL",
    "ALTER TABLE tasks ADD CONSTRAINT ck_task_trigger CHECK (trigger IN ('manual', 'schedule'))",
    # Once per slot, whatever the number of schedulers racing for it.
    "CREATE UNIQUE INDEX uq_tasks_schedule_slot ON tasks (agent_id, type, schedule_slot) "
    "WHERE schedule_slot IS NOT NULL",
    "CREATE INDEX ix_tasks_agent_created ON tasks (agent_id, created_at DESC, id DESC)",
    "CREATE INDEX ix_tasks_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL",
    # -- task events: a sequence number to resume a stream with Last-Event-ID ------------------
    "ALTER TABLE task_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY",
    "CREATE UNIQUE INDEX uq_task_events_task_seq ON task_events (task_id, seq)",
    # -- organizations: schedules run in the org's time zone ----------------------------------
    "ALTER TABLE organizations ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'",
    # -- local-agent keys ---------------------------------------------------------------------
    """
    CREATE TABLE local_agent_keys (
        id uuid PRIMARY KEY DEFAULT uuidv7(),
        org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        name text NOT NULL,
        prefix text NOT NULL,
        secret_sha256 bytea NOT NULL,
        created_by uuid REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
    )
    """,
    "CREATE INDEX ix_local_agent_keys_org ON local_agent_keys (org_id)",
    "CREATE INDEX ix_local_agent_keys_agent ON local_agent_keys (agent_id, created_at)",
    # -- local agents: what the heartbeat reports ---------------------------------------------
    "ALTER TABLE local_agents ADD COLUMN host text",
    "ALTER TABLE local_agents ADD COLUMN version text",
    "ALTER TABLE local_agents ADD COLUMN tools jsonb NOT NULL DEFAULT '[]'",
    "ALTER TABLE local_agents ADD COLUMN key_id uuid "
    "REFERENCES local_agent_keys(id) ON DELETE SET NULL",
    # -- tool calls ---------------------------------------------------------------------------
    """
    CREATE TABLE tool_calls (
        id uuid PRIMARY KEY DEFAULT uuidv7(),
        task_id uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        step text NOT NULL,
        tool text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'PENDING',
        attempt integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 3,
        local_agent_id uuid REFERENCES local_agents(id) ON DELETE SET NULL,
        lease_until timestamptz,
        claimed_at timestamptz,
        result jsonb,
        result_sha256 text,
        error text,
        completed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_tool_call_step UNIQUE (task_id, step),
        CONSTRAINT ck_tool_call_status
            CHECK (status IN ('PENDING', 'CLAIMED', 'DONE', 'FAILED', 'CANCELLED'))
    )
    """,
    "CREATE INDEX ix_tool_calls_org ON tool_calls (org_id)",
    # The claim query: open calls of one agent, oldest first.
    "CREATE INDEX ix_tool_calls_open ON tool_calls (agent_id, created_at) "
    "WHERE status IN ('PENDING', 'CLAIMED')",
    "CREATE TRIGGER trg_tool_calls_updated_at BEFORE UPDATE ON tool_calls "
    "FOR EACH ROW EXECUTE FUNCTION phi_touch_updated_at()",
    # -- notifications: every writer (API, worker, SQL by hand) wakes the listeners -----------
    """
    CREATE FUNCTION phi_notify_task_event() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('phi_task_events', NEW.task_id::text || ':' || NEW.seq::text);
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER trg_task_events_notify AFTER INSERT ON task_events "
    "FOR EACH ROW EXECUTE FUNCTION phi_notify_task_event()",
    """
    CREATE FUNCTION phi_notify_tool_call() RETURNS trigger AS $$
    BEGIN
        IF NEW.status = 'PENDING' THEN
            PERFORM pg_notify('phi_tool_calls', NEW.agent_id::text);
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER trg_tool_calls_notify AFTER INSERT OR UPDATE OF status, attempt "
    "ON tool_calls FOR EACH ROW EXECUTE FUNCTION phi_notify_tool_call()",
    # -- LangGraph checkpointer (langgraph-checkpoint-postgres 3.2.0) -------------------------
    "CREATE TABLE IF NOT EXISTS checkpoint_migrations (v INTEGER PRIMARY KEY)",
    """
    CREATE TABLE IF NOT EXISTS checkpoints (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        type TEXT,
        checkpoint JSONB NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}',
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS checkpoint_blobs (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL,
        version TEXT NOT NULL,
        type TEXT NOT NULL,
        blob BYTEA,
        PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS checkpoint_writes (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        channel TEXT NOT NULL,
        type TEXT,
        blob BYTEA NOT NULL,
        task_path TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    )
    """,
    "CREATE INDEX IF NOT EXISTS checkpoints_thread_id_idx ON checkpoints(thread_id)",
    "CREATE INDEX IF NOT EXISTS checkpoint_blobs_thread_id_idx ON checkpoint_blobs(thread_id)",
    "CREATE INDEX IF NOT EXISTS checkpoint_writes_thread_id_idx ON checkpoint_writes(thread_id)",
    "INSERT INTO checkpoint_migrations (v) "
    f"SELECT generate_series(0, {CHECKPOINT_MIGRATIONS - 1}) ON CONFLICT DO NOTHING",
]

DOWNGRADE = [
    "DROP TABLE IF EXISTS checkpoint_writes",
    "DROP TABLE IF EXISTS checkpoint_blobs",
    "DROP TABLE IF EXISTS checkpoints",
    "DROP TABLE IF EXISTS checkpoint_migrations",
    "DROP TABLE IF EXISTS tool_calls",
    "DROP FUNCTION IF EXISTS phi_notify_tool_call()",
    "DROP TRIGGER IF EXISTS trg_task_events_notify ON task_events",
    "DROP FUNCTION IF EXISTS phi_notify_task_event()",
    "ALTER TABLE local_agents DROP COLUMN key_id, DROP COLUMN tools, DROP COLUMN version, "
    "DROP COLUMN host",
    "DROP TABLE IF EXISTS local_agent_keys",
    "ALTER TABLE organizations DROP COLUMN time_zone",
    "DROP INDEX IF EXISTS uq_task_events_task_seq",
    "ALTER TABLE task_events DROP COLUMN seq",
    "DROP INDEX IF EXISTS ix_tasks_finished",
    "DROP INDEX IF EXISTS ix_tasks_agent_created",
    "DROP INDEX IF EXISTS uq_tasks_schedule_slot",
    "ALTER TABLE tasks DROP CONSTRAINT ck_task_trigger, DROP COLUMN created_by, "
    "DROP COLUMN schedule_slot, DROP COLUMN trigger, DROP COLUMN finished_at, "
    "DROP COLUMN started_at",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
