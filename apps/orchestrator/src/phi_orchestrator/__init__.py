"""Phi Agents orchestrator: runs agent workflows and talks to local agents.

Its endpoints (tasks, the local-agent protocol) and LangGraph workflows arrive with their
own issue; the package exists now so that the layout and shared models are in place.
"""
