"""Generated secrets are private from their first byte, and an exposed one stops the service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phi_platform.settings import PlatformSettings, SecretFileExposed, read_or_create_secret


@pytest.fixture
def open_umask() -> object:
    # The most permissive umask: whatever protects the secret must not depend on the user's.
    old = os.umask(0)
    yield
    os.umask(old)


def test_new_secret_file_is_0600_and_kept(tmp_path: Path, open_umask: object) -> None:
    path = tmp_path / "secrets" / "jwt_secret"
    value = read_or_create_secret(path, 48)
    assert len(value) >= 48
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_or_create_secret(path) == value
    assert sorted(p.name for p in path.parent.iterdir()) == ["jwt_secret"]


def test_no_file_holding_the_secret_is_ever_open_to_others(
    tmp_path: Path, open_umask: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing the secret and narrowing its mode must leave nothing readable:
    the file is created private, not written first and chmod-ed after."""

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "chmod", crash)
    monkeypatch.setattr(Path, "chmod", crash)
    path = tmp_path / "secrets" / "pg_password"
    try:
        read_or_create_secret(path)
    except KeyboardInterrupt:
        pass
    for leftover in path.parent.iterdir():
        assert leftover.stat().st_mode & 0o077 == 0, f"{leftover.name} is open to other users"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_secret_file_open_to_others_is_refused_naming_it(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text("s" * 40)
    path.chmod(mode)
    with pytest.raises(SecretFileExposed) as refused:
        read_or_create_secret(path)
    assert str(path) in str(refused.value)
    assert "chmod 600" in str(refused.value)


def test_settings_refuse_an_exposed_database_password(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "pg_password").write_text("hunter2hunter2")
    (secrets_dir / "pg_password").chmod(0o644)
    settings = PlatformSettings(data_dir=tmp_path, database_url=None)
    with pytest.raises(SecretFileExposed, match="pg_password"):
        _ = settings.resolved_database_url
