from __future__ import annotations

from functools import lru_cache

from phi_platform.settings import PlatformSettings


class CoreApiSettings(PlatformSettings):
    """Settings of the core API (environment variables with the ``PHI_`` prefix)."""

    core_api_host: str = "127.0.0.1"
    core_api_port: int = 8000
    db_application_name: str = "phi-core-api"
    # Public URL of the orchestrator, written into exported agent configs.
    orchestrator_url: str = "http://localhost:8001"

    # Failed sign-ins: after this many failures inside the window, the account (or the
    # client address) is refused with 429 until the lock expires.
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 50
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900
    # Set when a reverse proxy in front of the API sets X-Forwarded-For.
    trust_forwarded_for: bool = False


@lru_cache
def get_settings() -> CoreApiSettings:
    return CoreApiSettings()
