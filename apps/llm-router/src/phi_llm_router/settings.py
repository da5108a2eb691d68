"""The one settings object of the router service (`PHI_` environment variables)."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from phi_platform.settings import PlatformSettings, read_or_create_secret
from phi_service.settings import MetricsSettings


class RouterServiceSettings(PlatformSettings, MetricsSettings):
    llm_router_host: str = "127.0.0.1"
    llm_router_port: int = 8002
    # Bearer token every caller must present; generated into the data dir when unset.
    llm_router_token: str | None = None
    # A platform token may make model calls that no organization pays for (no X-Phi-Org-Id on
    # /v1); otherwise such calls are refused, so no client can spend tokens outside a budget.
    llm_router_platform_token: bool = False
    # Where calls are recorded: the platform database, or nowhere (a router without a DB).
    llm_accounting: Literal["postgres", "none"] = "postgres"

    def multi_host_missing(self) -> list[str]:
        missing = super().multi_host_missing() if self.llm_accounting == "postgres" else []
        if not self.llm_router_token:
            missing.append("llm_router_token")
        return missing

    @cached_property
    def resolved_llm_router_token(self) -> str:
        if self.llm_router_token:
            return self.llm_router_token
        return read_or_create_secret(self.secrets_dir / "llm_router_token")
