from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import Field, field_validator

from phi_service.settings import ServiceSettings


class CoreApiSettings(ServiceSettings):
    """Settings of the core API (environment variables with the ``PHI_`` prefix)."""

    core_api_host: str = "127.0.0.1"
    core_api_port: int = 8000
    db_application_name: str = "phi-core-api"
    # Public URL of the orchestrator, written into exported agent configs.
    orchestrator_url: str = "http://localhost:8001"

    # Failed sign-ins (docs/security.md). After this many failures inside the window, one
    # account from one address (the pair), or one address whatever the account, is refused
    # with 429 until the lock expires.
    login_max_failures_per_pair: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # An account is never locked: past its free failures each further failure makes it wait
    # (the delay doubles from the first value up to the max) before the next attempt, except
    # from an address it signed in or signed up from within the last known-address days.
    # The count starts over after a window without failures.
    login_account_free_failures: int = Field(default=5, ge=0)
    login_account_delay_seconds: float = Field(default=1.0, gt=0)
    login_account_max_delay_seconds: float = Field(default=300.0, gt=0)
    login_known_address_days: int = Field(default=90, ge=0)
    # Sign-up answers 409 for an email that has an account (the form must say so); to keep
    # that from listing who has one, an address gets this many such answers per window,
    # then 429 for every sign-up until the window has passed (docs/security.md).
    signup_max_existing_per_address: int = Field(default=10, ge=1)
    signup_existing_window_seconds: int = Field(default=3600, ge=1)
    # Addresses or networks of the reverse proxies in front of the API, comma-separated
    # ("10.0.0.5,192.168.0.0/24"). Only a connection from one of them may say, with
    # X-Forwarded-For, which client it forwards; the client is the nearest address in that
    # chain that is not a trusted proxy (uvicorn's proxy-headers handling). Empty: the header
    # is ignored and the connecting address is the client.
    trusted_proxies: str = ""

    # Where uploaded files are kept (storage/__init__.py): unset for $PHI_DATA_DIR/files,
    # s3://bucket/prefix for an S3-compatible store (reached with the standard AWS_*
    # variables), file:///path for another folder. Every API and worker must name the same.
    storage_url: str | None = None
    # The orphan sweep leaves a stored file without a document alone this long: an upload
    # stores its file just before its row commits.
    orphan_file_grace_seconds: int = Field(default=3600, ge=0)
    # Documents: uploads over this size are refused with 413 before anything is stored.
    max_upload_bytes: int = 25 * 1024 * 1024
    max_pdf_pages: int = 2000
    max_docx_uncompressed_bytes: int = 200 * 1024 * 1024
    # Text kept from one document; past it the document FAILS with the reason (bounds a
    # worker's time and memory on a huge file: figures in docs/benchmarks.md).
    max_extracted_chars: int = 3_000_000
    # Search (figures in docs/benchmarks.md): the HNSW candidate list of an organization's own
    # index, how many nearest chunks are fetched and re-sorted before the top_k are kept,
    # whether the full-text ranking is fused in, and from how many units (the rows search
    # scans; the name predates them) `phi-documents index-tenants` and the worker give an
    # organization its own HNSW indexes (below it: exact scan).
    search_ef_search: int = 200
    search_candidates: int = 40
    search_hybrid: bool = True
    search_tenant_index_min_chunks: int = 10_000
    # Optional rerank of the first passages by the LLM router's `light` class (one model call
    # per search; measured in docs/benchmarks.md, "rerank"). Off by default; on the builtin
    # route it keeps search's order, since there is no model to judge relevance with.
    search_rerank: bool = False
    search_rerank_top_n: int = Field(default=3, ge=2, le=20)
    # Vectors of recent search questions kept in memory (1.5 KB each at 384 dimensions);
    # 0 embeds every question.
    search_query_cache_size: int = Field(default=4096, ge=0)
    # Processes that embed search questions with the local model, the cores shared out
    # between them (started by the first search); 0 embeds them in the API process.
    search_embed_processes: int = Field(default=1, ge=0, le=64)
    # ... stopped after this many seconds without a question (0: kept while the API runs).
    search_embed_idle_seconds: float = Field(default=120, ge=0)
    # Embeddings (provider, model and dim are in PlatformSettings).
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_batch_size: int | None = None
    # LLM: the router runs in-process unless PHI_LLM_ROUTER_URL names the router service.
    llm_router_url: str | None = None
    llm_router_token: str | None = None
    llm_timeout_seconds: float = 180.0
    # Document chunks shown to the model when generating a profile (JDs and SOPs first).
    profile_sample_chunks: int = Field(default=10, ge=1, le=50)
    # generate-profile waits this long for the agent's documents still being processed,
    # then answers 409 naming them.
    profile_documents_wait_seconds: float = Field(default=15.0, ge=0, le=120)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"PHI_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value

    def multi_host_missing(self) -> list[str]:
        # Tokens signed by one API are checked by every other one (and the orchestrators);
        # a file stored by one API is read by any worker.
        missing = super().multi_host_missing()
        missing += [name for name in ("jwt_secret", "storage_url") if not getattr(self, name)]
        if self.llm_router_url and not self.llm_router_token:
            missing.append("llm_router_token")
        return missing

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [e.strip() for e in self.trusted_proxies.split(",") if e.strip()]


@lru_cache
def get_settings() -> CoreApiSettings:
    return CoreApiSettings()
