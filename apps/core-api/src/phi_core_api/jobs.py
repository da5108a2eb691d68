"""core-api's job app: its domains' tasks on the shared queue (``phi_service.jobs``)."""

from __future__ import annotations

import procrastinate

from phi_core_api.settings import CoreApiSettings
from phi_service.jobs import create_job_app as create_service_job_app

# The queue core-api's tasks use; its workers listen to it (and to the maintenance queue).
QUEUES = ["default"]


def create_job_app(settings: CoreApiSettings) -> procrastinate.App:
    """A procrastinate App bound to the configured database, with every core-api task."""
    from phi_core_api.auth.tasks import make_blueprint as auth_tasks
    from phi_core_api.documents.tasks import make_blueprint as documents_tasks
    from phi_core_api.memories.tasks import make_blueprint as memories_tasks
    from phi_core_api.profiles.tasks import make_blueprint as profiles_tasks

    return create_service_job_app(
        settings.libpq_database_url,
        {
            "auth": auth_tasks(),
            "documents": documents_tasks(),
            "memories": memories_tasks(),
            "profiles": profiles_tasks(),
        },
    )
