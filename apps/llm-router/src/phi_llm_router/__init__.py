"""The LLM router as an HTTP service (port 8002): native and OpenAI-compatible endpoints.

Any OpenAI client can use the router by pointing its base URL at ``http://host:8002/v1``
with the service token as its API key; the ``model`` is a task class (``heavy``, ``light``…)
or ``provider/model``. The organization, agent and task a call is made for travel in the
``X-Phi-Org-Id``, ``X-Phi-Agent-Id``, ``X-Phi-Task-Id`` and ``X-Phi-Task`` headers there,
and in the body of the native endpoints. The routing itself is the ``phi_llm`` library.
"""
