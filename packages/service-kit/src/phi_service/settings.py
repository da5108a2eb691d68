"""Settings every service with a job queue adds to the platform's."""

from __future__ import annotations

from phi_platform.settings import PlatformSettings


class ServiceSettings(PlatformSettings):
    """Base of each service's settings object (environment variables with the ``PHI_`` prefix).

    ``worker_concurrency`` is how many jobs one worker process runs at once;
    ``worker_stalled_seconds`` is how long a worker may miss its heartbeat before another
    worker puts its running jobs back in the queue.
    """

    worker_concurrency: int = 2
    worker_stalled_seconds: int = 60
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
