"""`phi-db`: start the embedded PostgreSQL, migrate, seed."""

from __future__ import annotations

import time
import warnings
from typing import Annotated

import typer
from sqlalchemy import create_engine, text

from phi_platform.settings import PlatformSettings

app = typer.Typer(help="Database commands for Phi Agents.", no_args_is_help=True)


def embedded(settings: PlatformSettings):  # type: ignore[no-untyped-def]
    warnings.filterwarnings("ignore", module="platformdirs")
    from phi_platform.embedded_pg import EmbeddedPostgres

    return EmbeddedPostgres(
        root=settings.data_dir / "pg",
        port=settings.pg_port,
        host=settings.pg_host,
        password_file=settings.secrets_dir / "pg_password",
    )


def prepare_database(settings: PlatformSettings) -> None:
    """Start the embedded server when no DATABASE_URL is set, then migrate and seed."""
    if not settings.database_url:
        pg = embedded(settings)
        pg.start()
        pg.ensure_database(settings.pg_database)
    migrate_and_seed(settings)


def migrate_and_seed(settings: PlatformSettings) -> None:
    """Apply migrations and load the catalog on a running database. Safe to run from many
    hosts at once (a job per replica): they take turns on the migration lock."""
    from phi_platform.catalog.seed import seed_catalog
    from phi_platform.db.migrate import migration_lock, upgrade

    url = settings.resolved_database_url
    with migration_lock(url):
        upgrade(url, settings.embedding_dim, lock=False, secret_box=lambda: settings.secret_box)
        engine = create_engine(url)
        with engine.begin() as conn:
            counts = seed_catalog(conn)
        engine.dispose()
    typer.echo(f"database ready; catalog: {counts}")


@app.command()
def up() -> None:
    """Start the embedded server (unless DATABASE_URL is set), migrate and seed."""
    prepare_database(PlatformSettings())


def wait_for_database(url: str, seconds: float) -> None:
    """Return once the database at ``url`` accepts a connection, or exit after ``seconds``
    naming where it was looked for (never the password)."""
    import psycopg
    from sqlalchemy.engine import make_url

    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                where = make_url(url)
                typer.echo(
                    f"the database at {where.host}:{where.port or 5432}/{where.database} did not "
                    f"accept connections within {seconds:g} s: {str(exc).strip()}",
                    err=True,
                )
                raise typer.Exit(1) from None
        time.sleep(0.5)


@app.command()
def migrate(
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for the database to accept connections first (a job "
            "started together with its database, as in deploy/compose.yaml).",
        ),
    ] = 0,
) -> None:
    """Apply migrations to the configured database and refresh the catalog: the job to run
    before (or while) the replicas of a new version start; any number may run at once."""
    settings = PlatformSettings()
    if wait:
        wait_for_database(settings.libpq_database_url, wait)
    migrate_and_seed(settings)


@app.command()
def seed() -> None:
    """Load (or refresh) the catalog of industries, roles and tools."""
    from phi_platform.catalog.seed import seed_catalog

    settings = PlatformSettings()
    engine = create_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        typer.echo(seed_catalog(conn))


@app.command("reseal-secrets")
def reseal_secrets() -> None:
    """Encrypt every stored secret again with the first key of PHI_SECRETS_KEY: after
    setting PHI_SECRETS_KEY=new,old, run this, then drop the old key."""
    from phi_platform.secret_box import SecretUnreadable

    settings = PlatformSettings()
    box = settings.secret_box
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, secret_encrypted FROM delivery_destinations "
                    "WHERE secret_encrypted IS NOT NULL FOR UPDATE"
                )
            ).all()
            for row_id, sealed in rows:
                conn.execute(
                    text("UPDATE delivery_destinations SET secret_encrypted = :v WHERE id = :id"),
                    {"v": box.reseal(sealed), "id": row_id},
                )
    except SecretUnreadable as exc:
        typer.echo(f"nothing changed: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"{len(rows)} secret(s) encrypted with the first key of PHI_SECRETS_KEY")


@app.command()
def stop() -> None:
    """Stop the embedded server."""
    embedded(PlatformSettings()).stop()


@app.command()
def url() -> None:
    """Print the database URL in use (with its password)."""
    typer.echo(PlatformSettings().libpq_database_url)


def main() -> None:
    app()
