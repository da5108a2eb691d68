"""Secrets the platform must read back (webhook signing keys) are stored encrypted with
PHI_SECRETS_KEY; a key can be replaced without losing them; the migration encrypts the ones
stored in clear before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from pydantic import ValidationError

from phi_platform.db.migrate import downgrade, upgrade
from phi_platform.secret_box import SecretBox, SecretUnreadable
from phi_platform.settings import PlatformSettings

KEY = "k" * 20 + "-first-key-of-the-tests"
NEW_KEY = "n" * 20 + "-second-key-of-the-tests"
SECRET = "whsec_secret-of-a-receiver-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PHI_SECRETS_KEY", "PHI_SECRETS_KEY_FILE", "PHI_MULTI_HOST", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_sealed_secrets_open_only_with_the_key() -> None:
    box = SecretBox(KEY)
    sealed = box.seal(SECRET)
    assert SECRET not in sealed and SECRET[6:] not in sealed
    assert sealed != box.seal(SECRET)  # a fresh nonce each time
    assert box.open(sealed) == SECRET
    with pytest.raises(SecretUnreadable, match="was the key changed"):
        SecretBox(NEW_KEY).open(sealed)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretUnreadable):
        box.open(altered)


def test_a_new_key_reads_the_old_secrets_while_the_old_one_follows_it() -> None:
    sealed = SecretBox(KEY).seal(SECRET)
    both = SecretBox(f"{NEW_KEY}, {KEY}")
    assert both.open(sealed) == SECRET
    resealed = both.reseal(sealed)
    assert SecretBox(NEW_KEY).open(resealed) == SECRET  # the old key can now go


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("short", "key 1 has 5 characters; at least 32"),
        (f"{KEY},", "an empty key"),
        (f"{KEY},tiny", "key 2 has 4 characters"),
    ],
)
def test_a_key_that_cannot_be_used_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str, words: str
) -> None:
    monkeypatch.setenv("PHI_SECRETS_KEY", value)
    with pytest.raises(ValidationError) as refused:
        PlatformSettings()
    assert "PHI_SECRETS_KEY" in str(refused.value) and words in str(refused.value)
    assert "tiny" not in str(refused.value).replace("key 2", "")  # the value is never shown


def test_the_key_is_generated_on_one_host_and_required_on_several(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = PlatformSettings(data_dir=tmp_path)
    sealed = settings.secret_box.seal(SECRET)
    key_file = tmp_path / "secrets" / "secrets_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert PlatformSettings(data_dir=tmp_path).secret_box.open(sealed) == SECRET

    monkeypatch.setenv("PHI_MULTI_HOST", "1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/phi")
    with pytest.raises(ValueError, match="PHI_SECRETS_KEY is not set"):
        PlatformSettings(data_dir=tmp_path / "other").secret_box  # noqa: B018
    (tmp_path / "mounted").write_text(KEY + "\n")
    monkeypatch.setenv("PHI_SECRETS_KEY_FILE", str(tmp_path / "mounted"))
    assert PlatformSettings().secret_box.open(SecretBox(KEY).seal(SECRET)) == SECRET


def test_orchestrators_on_several_hosts_need_the_key() -> None:
    """The orchestrator's settings (API and workers) name it when it is missing."""
    code = (
        "from phi_orchestrator.settings import OrchestratorSettings\n"
        "OrchestratorSettings(multi_host=True, database_url='postgresql://db/phi', "
        "jwt_secret='j' * 40)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin"}
    )
    assert out.returncode != 0 and "PHI_SECRETS_KEY" in out.stderr


def _destination(url: str) -> str:
    """An organization, an agent and a webhook destination with a secret in clear (as
    migration 0017 stored it); returns the destination's id."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        org = conn.execute("INSERT INTO organizations (name) VALUES ('o') RETURNING id").fetchone()
        agent = conn.execute(
            "INSERT INTO agents (org_id, name) VALUES (%s, 'a') RETURNING id", (org[0],)
        ).fetchone()  # type: ignore[index]
        row = conn.execute(
            "INSERT INTO delivery_destinations (org_id, agent_id, workflow_type, kind, target, "
            "secret) VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'webhook', "
            "'https://hooks.example.com/x', %s) RETURNING id",
            (org[0], agent[0], SECRET),  # type: ignore[index]
        ).fetchone()
    return str(row[0])  # type: ignore[index]


def _column(url: str, column: str) -> list[tuple[str]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(f"SELECT {column} FROM delivery_destinations").fetchall()


def test_the_migration_encrypts_the_secrets_stored_in_clear(fresh_database_url: str) -> None:
    url = fresh_database_url

    def no_key() -> SecretBox:
        raise AssertionError("the key was asked for with no secret to encrypt")

    # Nothing stored: the key is not even read.
    upgrade(url, secret_box=no_key)
    downgrade(url, "0018", secret_box=no_key)
    _destination(url)
    upgrade(url, secret_box=lambda: SecretBox(KEY))
    ((sealed,),) = _column(url, "secret_encrypted")
    assert SECRET not in sealed and SecretBox(KEY).open(sealed) == SECRET
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'delivery_destinations'"
            )
        ]
    assert "secret" not in names
    # And back: the downgrade decrypts them.
    downgrade(url, "0018", secret_box=lambda: SecretBox(KEY))
    assert _column(url, "secret") == [(SECRET,)]


def test_the_migration_without_a_usable_key_stops_naming_it(fresh_database_url: str) -> None:
    url = fresh_database_url
    upgrade(url, revision="0018")
    _destination(url)

    def missing() -> SecretBox:
        raise ValueError("PHI_MULTI_HOST is on but PHI_SECRETS_KEY is not set")

    with pytest.raises(RuntimeError, match="1 webhook secret.*PHI_SECRETS_KEY"):
        upgrade(url, secret_box=missing)
    assert _column(url, "secret") == [(SECRET,)]  # nothing lost: still at 0018


def test_reseal_secrets_moves_every_secret_to_the_new_key(fresh_database_url: str) -> None:
    """`phi-db reseal-secrets` with PHI_SECRETS_KEY=new,old: afterwards the new key alone
    reads every secret; with a key that reads none, it changes nothing and says why."""
    url = fresh_database_url
    upgrade(url, revision="0018")
    _destination(url)
    upgrade(url, secret_box=lambda: SecretBox(KEY))
    ((before,),) = _column(url, "secret_encrypted")

    def reseal(keys: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from phi_platform.cli import main; main()", "reseal-secrets"],
            env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "PHI_SECRETS_KEY": keys},
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = reseal(NEW_KEY)
    assert refused.returncode == 1 and "nothing changed" in refused.stderr
    assert _column(url, "secret_encrypted") == [(before,)]
    done = reseal(f"{NEW_KEY},{KEY}")
    assert done.returncode == 0 and "1 secret(s)" in done.stdout, done.stderr
    ((after,),) = _column(url, "secret_encrypted")
    assert SecretBox(NEW_KEY).open(after) == SECRET
    assert KEY not in done.stdout + done.stderr and NEW_KEY not in done.stdout + done.stderr
