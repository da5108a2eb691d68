"""memories: short facts an agent or its organization keeps, with their source and date

Revision ID: 0013
Revises: 0012

A memory belongs to an organization and, when ``agent_id`` is set, to one of its agents
(NULL: the organization's namespace, which every agent of it recalls). It says where it came
from: a task (``source_task_id``) or a person (``source_user_id``). A report's summary is kept
once per agent and day (``report_day``, unique with the agent), so running the report again
for that day replaces it instead of adding a second one.

The vector column takes the type of ``document_chunks.embedding`` (the configured model's
dimension), kept in the row as for units (migration 0010). It may be NULL: a memory stored
while the embedding service was down is found by its words until a worker embeds it. Deleting
the agent deletes its memories; deleting the organization deletes all of them.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    vector_type = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'document_chunks'::regclass AND attname = 'embedding'"
        )
        .scalar()
    )
    op.execute(
        f"""
        CREATE TABLE memories (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
            text text NOT NULL,
            embedding {vector_type},
            search_text tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text))
                STORED,
            source text NOT NULL,
            source_task_id uuid REFERENCES tasks(id) ON DELETE SET NULL,
            source_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
            report_day date,
            valid_until timestamptz,
            created_by uuid REFERENCES users(id) ON DELETE SET NULL,
            updated_by uuid REFERENCES users(id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_memory_source CHECK (source IN ('task', 'user')),
            CONSTRAINT ck_memory_text CHECK (char_length(text) BETWEEN 1 AND 8000),
            -- A person's memory names no task; a task's memory names no person as source.
            CONSTRAINT ck_memory_source_ids CHECK (
                (source = 'user' AND source_task_id IS NULL)
                OR (source = 'task' AND source_user_id IS NULL)
            ),
            -- A day's report memory belongs to an agent.
            CONSTRAINT ck_memory_report_day CHECK (report_day IS NULL OR agent_id IS NOT NULL)
        )
        """
    )
    op.execute("ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute(
        "CREATE INDEX ix_memories_org_agent_created ON memories "
        "(org_id, agent_id, created_at DESC, id DESC)"
    )
    op.execute("CREATE INDEX ix_memories_agent ON memories (agent_id)")
    op.execute("CREATE INDEX ix_memories_search_text ON memories USING gin (search_text)")
    op.execute(
        "CREATE UNIQUE INDEX uq_memories_agent_report_day ON memories (agent_id, report_day) "
        "WHERE report_day IS NOT NULL"
    )
    # The housekeeping's two sweeps: expired memories, and memories still without a vector.
    op.execute(
        "CREATE INDEX ix_memories_valid_until ON memories (valid_until) "
        "WHERE valid_until IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_memories_unembedded ON memories (id) WHERE embedding IS NULL")
    op.execute("CREATE INDEX ix_memories_source_task ON memories (source_task_id)")
    op.execute(
        "CREATE TRIGGER trg_memories_updated_at BEFORE UPDATE ON memories "
        "FOR EACH ROW EXECUTE FUNCTION phi_touch_updated_at()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS memories")
