"""Fixtures of the router library's tests: misbehaving OpenAI-compatible servers, the real
local embedder, and (for the slow group) a llama.cpp server on a real GGUF; all from
phi_llm.fixtures, which the router service's tests (apps/llm-router) share."""

from phi_llm.fixtures import embedder, fake_openai, llama_server

__all__ = ["embedder", "fake_openai", "llama_server"]
