from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phi_llm import ConfigError
from phi_llm.config import config_from_env, parse_routes


def test_nothing_set_means_builtin_everywhere() -> None:
    cfg = config_from_env({})
    assert set(cfg.providers) == {"builtin"}
    assert {c: [e.label for e in es] for c, es in cfg.routes.items()} == {
        "default": ["builtin/builtin"],
        "light": ["builtin/builtin"],
        "heavy": ["builtin/builtin"],
    }


def test_routes_variable_overrides_classes_and_adds_new_ones() -> None:
    cfg = config_from_env(
        {
            "PHI_LLM_ROUTES": "heavy=openai:gpt-4.1,builtin; report = openai:gpt-4o-mini ,builtin",
            "PHI_OPENAI_BASE_URL": "http://127.0.0.1:8080/v1",
            "PHI_LLM_TIMEOUT": "12.5",
            "PHI_LLM_RETRIES": "1",
        }
    )
    assert [e.label for e in cfg.routes["heavy"]] == ["openai/gpt-4.1", "builtin/builtin"]
    assert [e.label for e in cfg.routes["report"]] == ["openai/gpt-4o-mini", "builtin/builtin"]
    assert (cfg.timeout, cfg.retries) == (12.5, 1)
    # A provider kind named only in the routes gets default settings.
    assert (
        config_from_env({"PHI_LLM_ROUTES": "light=openai:m"}).providers["openai"].kind == "openai"
    )


def test_llamacpp_model_path_puts_the_local_model_first_for_light() -> None:
    cfg = config_from_env({"PHI_LLAMACPP_MODEL_PATH": "/models/qwen.gguf", "OPENAI_API_KEY": "sk"})
    assert [e.label for e in cfg.routes["light"]] == [
        "llamacpp/qwen",
        "openai/gpt-4o-mini",
        "builtin/builtin",
    ]


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("heavy", "class=provider:model"),
        ("heavy=openai", "needs a model"),
        ("=builtin", "class=provider:model"),
    ],
)
def test_malformed_routes_are_refused_with_the_reason(spec: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_routes(spec)


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "llm.yaml"
    path.write_text(
        "providers:\n"
        "  vllm: {kind: openai, base_url: 'http://127.0.0.1:8000/v1', api_key_env: VLLM_KEY}\n"
        "routes:\n"
        "  heavy:\n"
        "    - {provider: vllm, model: qwen, timeout: 90, price_in_per_mtok: 0.1}\n"
        "    - {provider: builtin, model: builtin}\n"
        "retries: 3\n"
    )
    cfg = config_from_env({"PHI_LLM_CONFIG": str(path), "VLLM_KEY": "k"})
    assert cfg.routes["heavy"][0].timeout == 90 and cfg.retries == 3
    assert cfg.providers["vllm"].api_key({"VLLM_KEY": "k"}) == "k"
    assert [e.label for e in cfg.routes["light"]] == ["builtin/builtin"]


def test_yaml_naming_an_undefined_provider_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "llm.yaml"
    path.write_text("routes:\n  heavy: [{provider: ghost, model: x}]\n")
    with pytest.raises(ConfigError, match="provider 'ghost'"):
        config_from_env({"PHI_LLM_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="cannot read"):
        config_from_env({"PHI_LLM_CONFIG": str(tmp_path / "missing.yaml")})


def test_the_openai_sdk_is_loaded_only_for_an_openai_provider() -> None:
    """Every service imports the router; the SDK (22 MB a process) waits for its first
    provider (docs/benchmarks.md, issue 24 item 3)."""
    script = (
        "import sys\n"
        "from phi_llm.config import ProviderConfig\n"
        "from phi_llm.providers import create_provider, provider_kinds\n"
        "import phi_llm.router, phi_llm.embeddings\n"
        "assert 'openai' not in sys.modules, 'imported at start'\n"
        "assert 'openai' in provider_kinds()\n"
        "p = create_provider('remote', ProviderConfig(kind='openai', base_url='http://x/v1'), {})\n"
        "assert type(p).__name__ == 'OpenAIProvider' and 'openai' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
