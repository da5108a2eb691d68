"""organization audit log: append-only ``audit_events``

Revision ID: 0012
Revises: 0011

One row per change an organization's people (or its local agents, schedules, platform
administrators) made: who, what, to which target, a small whitelisted JSON of what changed,
the request id and client address. Rows are written in the transaction of the change.

Append-only, enforced here rather than trusted to the code: a trigger refuses every UPDATE,
DELETE and TRUNCATE on the table, whatever role runs them (the application may well connect as
the table's owner or as a superuser, which GRANT/REVOKE cannot restrict). The only way rows
leave is ``purge_audit_events(retention_days, batch_size)``: a SECURITY DEFINER function owned
by the NOLOGIN role ``phi_audit_retention``, the one role the trigger lets delete, and its body
deletes only rows older than the retention it is given (at least one day).

No foreign keys: an organization's or user's deletion must not cascade into its history (and
the trigger would refuse the cascade); the event of an org's deletion stays readable by platform
administrators until the retention removes it.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"

RETENTION_ROLE = "phi_audit_retention"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org_id uuid NOT NULL,
            occurred_at timestamptz NOT NULL DEFAULT now(),
            actor_type text NOT NULL CONSTRAINT ck_audit_actor_type CHECK (actor_type IN
                ('user', 'local_agent', 'schedule', 'platform_admin', 'anonymous')),
            actor_id uuid,
            actor_label text,
            action text NOT NULL,
            target_type text,
            target_id text,
            target_label text,
            details jsonb NOT NULL DEFAULT '{}'::jsonb,
            request_id text,
            client_address text
        )
        """
    )
    # The org's page and its export read newest first within a time range.
    op.execute(
        "CREATE INDEX ix_audit_events_org_time ON audit_events (org_id, occurred_at DESC, id DESC)"
    )
    # Retention and the platform administrators' all-orgs view go by time alone.
    op.execute("CREATE INDEX ix_audit_events_time ON audit_events (occurred_at, id)")

    op.execute(
        f"""
        CREATE FUNCTION audit_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND current_user = '{RETENTION_ROLE}' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'old events are removed by purge_audit_events() only';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC")

    # Roles belong to the whole cluster: another database of it may have made this one already,
    # or be making it right now (two databases migrated at once: the check passes in both and
    # the second CREATE ROLE fails on the catalog's unique index), so both outcomes are fine.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RETENTION_ROLE}') THEN
                CREATE ROLE {RETENTION_ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$
        """
    )
    op.execute(f"GRANT SELECT, DELETE ON audit_events TO {RETENTION_ROLE}")
    op.execute(
        """
        CREATE FUNCTION purge_audit_events(retention_days integer, batch_size integer)
        RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
        DECLARE
            removed integer;
        BEGIN
            IF retention_days IS NULL OR retention_days < 1 THEN
                RAISE EXCEPTION 'retention_days must be at least 1, got %', retention_days
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF batch_size IS NULL OR batch_size < 1 OR batch_size > 100000 THEN
                RAISE EXCEPTION 'batch_size must be between 1 and 100000, got %', batch_size
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            DELETE FROM public.audit_events
            WHERE id IN (
                SELECT id FROM public.audit_events
                WHERE occurred_at < now() - make_interval(days => retention_days)
                ORDER BY occurred_at, id
                LIMIT batch_size
            );
            GET DIAGNOSTICS removed = ROW_COUNT;
            RETURN removed;
        END
        $$
        """
    )
    op.execute(f"ALTER FUNCTION purge_audit_events(integer, integer) OWNER TO {RETENTION_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS purge_audit_events(integer, integer)")
    op.execute("DROP TABLE IF EXISTS audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    # The role is the cluster's; it stays while another database still grants it something.
    op.execute(
        f"""
        DO $$
        BEGIN
            DROP ROLE IF EXISTS {RETENTION_ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN
            NULL;
        END
        $$
        """
    )
