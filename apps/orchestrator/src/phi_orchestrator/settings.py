"""The orchestrator's one settings object (environment variables with the ``PHI_`` prefix)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field

from phi_service.settings import ServiceSettings


class OrchestratorSettings(ServiceSettings):
    orchestrator_host: str = "127.0.0.1"
    orchestrator_port: int = 8001
    db_application_name: str = "phi-orchestrator"

    # Local-agent protocol (docs/local-agent-protocol.md).
    heartbeat_interval_seconds: int = Field(default=15, ge=1)
    # A local agent is OFFLINE once its last heartbeat is older than this many intervals.
    offline_after_heartbeats: int = Field(default=3, ge=1)

    @property
    def offline_after_seconds(self) -> float:
        """Seconds without a heartbeat after which a local agent counts as OFFLINE."""
        return float(self.heartbeat_interval_seconds * self.offline_after_heartbeats)

    lease_seconds: int = Field(default=30, ge=1)
    # Claims of one call (a lease that expires counts one); after the last, the task fails.
    tool_call_max_attempts: int = Field(default=3, ge=1)
    # A call nobody claims for this long fails its task ("no local agent picked this up").
    tool_call_unclaimed_seconds: int = Field(default=600, ge=1)
    tool_result_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # How long a run waits in place for a local agent's answer (holding its worker slot)
    # before it stops and leaves the task WAITING for the callback's job; 0: never waits.
    tool_call_wait_seconds: float = Field(default=1.0, ge=0, le=30)
    long_poll_max_seconds: int = Field(default=30, ge=0)
    # Local agents one key may register; a heartbeat without an id reuses the row of the
    # same name, so only distinct names count.
    max_local_agents_per_key: int = Field(default=20, ge=1)

    # Housekeeping: LangGraph checkpoints of finished tasks are deleted after this long
    # (task rows, events and results stay).
    checkpoint_retention_hours: float = Field(default=24.0, ge=0)
    # Audit events older than this many days are removed, in batches (at least one day:
    # the database's purge function refuses less).
    audit_retention_days: int = Field(default=365, ge=1)

    # Workflow jobs mostly wait on the database, so a worker runs more at once than
    # core-api's; a worker silent this long has its running jobs handed to another.
    worker_concurrency: int = Field(default=4, ge=1)
    worker_stalled_seconds: int = Field(default=30, ge=1)

    # LLM: the router runs in-process unless PHI_LLM_ROUTER_URL names the router service.
    llm_router_url: str | None = None
    llm_router_token: str | None = None
    llm_timeout_seconds: float = 180.0

    # Results: where the web app is (links in emails and webhooks), and deliveries.
    public_web_url: str = "http://localhost:3000"
    # smtp://host:587 (STARTTLS when the server offers it), smtps://host:465 (TLS from the
    # start); user and password in the URL or in PHI_SMTP_USERNAME / PHI_SMTP_PASSWORD.
    smtp_url: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool | None = None  # None: use it when the server offers it
    smtp_from: str = "Phi Agents <reports@localhost>"
    # Networks a webhook may reach although private or local (comma-separated CIDRs, e.g.
    # "127.0.0.0/8" for tests or "10.1.2.0/24" for an internal receiver); empty: none.
    webhook_allowed_networks: str = ""
    delivery_max_attempts: int = Field(default=6, ge=1, le=20)
    # Wait before attempt n+1: base x 4^(n-1) (5 s, 20 s, 80 s, ...), capped at one hour.
    delivery_retry_base_seconds: float = Field(default=5.0, ge=0)
    delivery_timeout_seconds: float = Field(default=15.0, gt=0)
    # AGENT_TASK limits (docs/orchestrator.md): model turns, model tokens, output tokens a
    # turn, seconds a tool call and a task may take, characters of a tool result the model
    # reads; and how long a call waits for a person's approval.
    agent_task_max_steps: int = Field(default=12, ge=1, le=100)
    agent_task_max_tokens: int = Field(default=100_000, ge=100)
    agent_task_max_output_tokens: int = Field(default=2048, ge=16)
    agent_task_tool_seconds: float = Field(default=120.0, gt=0)
    agent_task_seconds: float = Field(default=1800.0, gt=0)
    agent_task_result_chars: int = Field(default=12_000, ge=500)
    approval_timeout_seconds: float = Field(default=86_400.0, gt=0)
    # Where the API looks for a model route before it accepts an AGENT_TASK (the router's own
    # variables; read here too because the API process has no router).
    llm_routes: str | None = None
    llm_config: str | None = None
    openai_base_url: str | None = None

    def agent_task_limits(self) -> Any:
        from phi_orchestrator.workflows.agent_task.limits import AgentTaskLimits

        return AgentTaskLimits(
            max_steps=self.agent_task_max_steps,
            max_tokens=self.agent_task_max_tokens,
            max_output_tokens=self.agent_task_max_output_tokens,
            tool_seconds=self.agent_task_tool_seconds,
            task_seconds=self.agent_task_seconds,
            result_chars=self.agent_task_result_chars,
        )

    # Search for the ASK workflow.
    search_ef_search: int = 200
    search_candidates: int = 40
    search_hybrid: bool = True
    search_query_cache_size: int = Field(default=1024, ge=0)
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_batch_size: int | None = None

    def multi_host_missing(self) -> list[str]:
        # The orchestrators check the tokens core-api signs.
        missing = super().multi_host_missing()
        if not self.jwt_secret:
            missing.append("jwt_secret")
        # Webhook secrets stored by one replica are signed with by another.
        if not self.secrets_key:
            missing.append("secrets_key")
        if self.llm_router_url and not self.llm_router_token:
            missing.append("llm_router_token")
        return missing


@lru_cache
def get_settings() -> OrchestratorSettings:
    return OrchestratorSettings()
