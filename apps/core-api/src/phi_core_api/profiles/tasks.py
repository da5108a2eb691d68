"""Background jobs of the profiles domain."""

from __future__ import annotations

import logging
import uuid

import procrastinate

from phi_service.jobs import context_value

logger = logging.getLogger(__name__)


async def generate_profile(context: procrastinate.JobContext, generation_id: str) -> None:
    """Generate and save a profile for the generation's agent (PENDING -> SUCCEEDED/FAILED)."""
    from phi_core_api.profiles.generation import fail_generation, run_generation
    from phi_core_api.profiles.runtime import profile_runtime

    settings = context_value(context, "settings")
    runtime = profile_runtime(settings)
    gen_id = uuid.UUID(generation_id)
    try:
        await run_generation(
            runtime.sessionmaker, runtime.router, gen_id, settings.profile_sample_chunks
        )
    except Exception as exc:
        # Never leave a generation RUNNING: say what broke so the user can try again.
        logger.exception("profile generation %s failed", generation_id)
        await fail_generation(
            runtime.sessionmaker, gen_id, f"internal error while generating ({type(exc).__name__})"
        )


def make_blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint with this domain's tasks (see documents.tasks for why fresh)."""
    blueprint = procrastinate.Blueprint()
    blueprint.task(name="generate_profile", pass_context=True)(generate_profile)
    return blueprint
