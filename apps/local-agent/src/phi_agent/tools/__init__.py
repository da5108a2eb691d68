"""One module per tool; each registers itself with :func:`phi_agent.registry.register`."""
