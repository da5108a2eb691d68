"""Settings every service with a job queue adds to the platform's."""

from __future__ import annotations

from pydantic import BaseModel, Field

from phi_platform.settings import PlatformSettings


class MetricsSettings(BaseModel):
    """Who may read ``/metrics`` (every HTTP service and worker mixes this in).

    ``metrics_token``: callers must send ``Authorization: Bearer <token>`` (401 otherwise).
    ``metrics_port``: ``/metrics`` leaves the service's own port (404 there) and is served on
    ``metrics_host:metrics_port`` instead, e.g. an address only the monitoring network
    reaches. Workers serve it on their health page (``worker_metrics_port``) either way.
    A plain model, so that it brings its fields and leaves the settings' configuration
    (the ``PHI_`` prefix) to the class it is mixed into.
    """

    metrics_token: str | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0


class ServiceSettings(PlatformSettings, MetricsSettings):
    """Base of each service's settings object (environment variables with the ``PHI_`` prefix).

    ``worker_concurrency`` is how many jobs one worker process runs at once;
    ``worker_stalled_seconds`` is how long a worker may miss its heartbeat before another
    worker puts its running jobs back in the queue.
    """

    worker_concurrency: int = 2
    worker_stalled_seconds: int = 60
    # How often an idle worker looks for jobs besides being woken by a new one. A job held
    # back by its lock (the next upload of an organization whose slot is taken) wakes no
    # one when the lock frees, so it waits up to this long; procrastinate's own 5 s made a
    # batch of small documents of one organization go through at one every 5 s.
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    # Port of a worker's /health, /ready and /metrics page on 127.0.0.1 (0: none).
    worker_metrics_port: int = 0
    # Largest request body of any route but the upload routes (which have their own limit).
    max_request_bytes: int = 1024 * 1024
    # Platform administrators by email, comma-separated (besides users given the flag with
    # `phi-admin grant EMAIL`); they may call the /admin routes, which answer 404 to others.
    admin_emails: str = ""

    def is_admin_email(self, email: str) -> bool:
        wanted = {e.strip().lower() for e in self.admin_emails.split(",") if e.strip()}
        return email.strip().lower() in wanted
