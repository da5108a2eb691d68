"""Phi Agents core API."""
