"""The router service over real HTTP, driven by the official openai SDK and by RouterClient."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm import (
    BUILTIN_LABEL,
    AllProvidersFailed,
    BudgetExceeded,
    CallContext,
    InMemoryAccountant,
    PostgresAccountant,
    Router,
    RouterConfig,
)
from phi_llm.client import RouterClient
from phi_llm_router.main import create_app
from phi_llm_router.settings import RouterServiceSettings
from phi_platform.db.models import Organization
from phi_platform.db.session import create_engine, create_sessionmaker

TOKEN = "test-service-token"
SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {"type": "string"},
        "items": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["headline", "items"],
}


def routes(base_url: str) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "providers": {
                "openai": {"kind": "openai", "base_url": base_url},
                "down": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
            },
            "routes": {
                "heavy": [
                    {"provider": "openai", "model": "remote-model"},
                    {"provider": "builtin", "model": "builtin"},
                ],
                "remote_only": [{"provider": "openai", "model": "remote-model"}],
                "broken": [{"provider": "down", "model": "m"}],
            },
            "retries": 0,
            "timeout": 5,
        }
    )


@pytest.fixture
def service(fake_openai, embedder, serve) -> tuple[Any, InMemoryAccountant]:
    accountant = InMemoryAccountant()
    router = Router(routes(fake_openai.base_url), accountant=accountant, embedder=embedder, env={})
    return serve(create_app(router, token=TOKEN)), accountant


ORG = str(uuid.uuid4())


@pytest.fixture
def sdk(service) -> openai.OpenAI:
    server, _ = service
    return openai.OpenAI(
        base_url=f"{server.url}/v1",
        api_key=TOKEN,
        max_retries=0,
        default_headers={"X-Phi-Org-Id": ORG},
    )


def test_every_endpoint_needs_the_service_token(service) -> None:
    server, _ = service
    assert httpx.get(f"{server.url}/health").status_code == 200
    for method, path in [
        ("POST", "/chat"),
        ("POST", "/complete"),
        ("POST", "/embed"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
    ]:
        assert httpx.request(method, f"{server.url}{path}", json={}).status_code == 401, path
        wrong = httpx.request(
            method, f"{server.url}{path}", json={}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401, path
    bad_sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_sdk.models.list()


def test_models_lists_task_classes_and_provider_models(sdk) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {"default", "light", "heavy", "openai/remote-model", "builtin/builtin"} <= ids


def test_chat_completions_route_by_model_name(sdk, fake_openai) -> None:
    heavy = sdk.chat.completions.create(model="heavy", messages=[{"role": "user", "content": "hi"}])
    assert heavy.choices[0].message.content == fake_openai.reply
    assert heavy.usage.prompt_tokens == 11 and heavy.usage.completion_tokens == 7
    assert fake_openai.requests[-1]["body"]["model"] == "remote-model"

    default = sdk.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Gate 4 has 17 trucks queued."}]
    )
    assert default.choices[0].message.content.startswith(BUILTIN_LABEL)
    assert "17 trucks" in default.choices[0].message.content


def test_structured_output_through_the_sdk(sdk, fake_openai) -> None:
    fake_openai.script.append('json:{"headline": "Docks 1-3 open", "items": ["1", "2", "3"]}')
    reply = sdk.chat.completions.create(
        model="heavy",
        messages=[{"role": "user", "content": "List the open docks."}],
        response_format={"type": "json_schema", "json_schema": {"name": "docks", "schema": SCHEMA}},
    )
    data = json.loads(reply.choices[0].message.content)
    assert data == {"headline": "Docks 1-3 open", "items": ["1", "2", "3"]}


def test_builtin_refuses_structured_output_it_has_no_facts_for(sdk, service) -> None:
    """It used to answer {'headline': 'Produced without an LLM...', 'items': []}: a headline
    and an empty list nobody stated. Now the call fails naming the field."""
    server, accountant = service
    with pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "List the open docks."}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "docks", "schema": SCHEMA},
            },
        )
    assert refused.value.status_code == 502
    assert "cannot_answer" in refused.value.message
    assert "(root).headline: no fact of that name was given" in refused.value.message
    # The native endpoint too, with a number the old builtin filled with its minimum.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    numbers = {
        "type": "object",
        "properties": {"total_units": {"type": "integer", "minimum": 0}},
        "required": ["total_units"],
    }
    native = httpx.post(
        f"{server.url}/chat",
        headers=auth,
        json={
            "messages": [{"role": "user", "content": "How many units?"}],
            "json_schema": numbers,
            "facts": {"units_text": "about forty"},
        },
    )
    assert native.status_code == 502, native.text
    assert "total_units" in native.json()["detail"]
    assert accountant.records[-1].outcome == "error"


def test_unknown_fields_are_refused_naming_them(sdk, service) -> None:
    server, _ = service
    auth = {"Authorization": f"Bearer {TOKEN}"}
    misspelled = httpx.post(
        f"{server.url}/chat",
        headers=auth,
        json={"messages": [{"role": "user", "content": "x"}], "response_schema": SCHEMA},
    )
    assert misspelled.status_code == 422
    assert "response_schema" in misspelled.text and "Extra inputs" in misspelled.text
    with pytest.raises(openai.UnprocessableEntityError, match="response_schema"):
        sdk.chat.completions.create(
            model="heavy",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"response_schema": SCHEMA},
        )
    with pytest.raises(openai.UnprocessableEntityError, match="functions"):
        sdk.chat.completions.create(
            model="heavy",
            messages=[{"role": "user", "content": "hi"}],
            functions=[{"name": "f", "parameters": {}}],
        )
    with pytest.raises(openai.UnprocessableEntityError, match="not among tools"):
        sdk.chat.completions.create(
            model="heavy",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
            tool_choice={"type": "function", "function": {"name": "g"}},
        )
    # What OpenAI clients commonly send is still accepted.
    ok = sdk.chat.completions.create(
        model="heavy",
        messages=[{"role": "user", "content": "hi", "name": "ops"}],
        top_p=0.9,
        seed=1,
    )
    assert ok.choices[0].message.content


def test_v1_calls_without_an_organization_need_a_platform_token(
    fake_openai, embedder, serve
) -> None:
    router = Router(routes(fake_openai.base_url), embedder=embedder, env={})
    body = {"model": "heavy", "messages": [{"role": "user", "content": "hi"}]}
    plain = serve(create_app(router, token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = httpx.post(f"{plain.url}/v1/chat/completions", json=body, headers=auth)
    assert refused.status_code == 403 and "X-Phi-Org-Id" in refused.json()["error"]["message"]
    refused = httpx.post(
        f"{plain.url}/v1/embeddings", json={"model": "e5", "input": "x"}, headers=auth
    )
    assert refused.status_code == 403
    assert fake_openai.calls == 0
    # A builtin-only route meters nothing, so it needs no organization.
    builtin = httpx.post(
        f"{plain.url}/v1/chat/completions", json={**body, "model": "default"}, headers=auth
    )
    assert builtin.status_code == 200
    platform = serve(
        create_app(
            router,
            token=TOKEN,
            settings=RouterServiceSettings(llm_router_platform_token=True, llm_accounting="none"),
        )
    )
    allowed = httpx.post(f"{platform.url}/v1/chat/completions", json=body, headers=auth)
    assert allowed.status_code == 200 and fake_openai.calls == 1


def test_fallback_through_the_service_when_the_model_returns_garbage(
    sdk, fake_openai, service
) -> None:
    _, accountant = service
    fake_openai.script.append("garbage")
    reply = sdk.chat.completions.create(model="heavy", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.startswith(BUILTIN_LABEL)
    assert [(r.provider, r.outcome) for r in accountant.records] == [
        ("openai", "error"),
        ("builtin", "ok"),
    ]


def test_provider_failures_map_to_502_and_503_naming_the_provider(sdk, fake_openai) -> None:
    fake_openai.default = "garbage"
    with pytest.raises(openai.APIStatusError) as bad:
        sdk.chat.completions.create(
            model="remote_only", messages=[{"role": "user", "content": "hi"}]
        )
    assert bad.value.status_code == 502
    assert "provider 'openai'" in bad.value.message
    with pytest.raises(openai.APIStatusError) as down:
        sdk.chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])
    assert down.value.status_code == 503
    assert "provider 'down'" in down.value.message


def test_bad_requests_get_4xx_naming_the_problem(sdk, service) -> None:
    server, _ = service
    with pytest.raises(openai.NotFoundError, match="unknown task class or model 'gpt-nonexistent'"):
        sdk.chat.completions.create(
            model="gpt-nonexistent", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="stream"):
        sdk.chat.completions.create(
            model="heavy", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    empty = httpx.post(f"{server.url}/chat", json={"messages": []}, headers=auth)
    assert empty.status_code == 422 and "messages" in empty.text
    unknown = httpx.post(
        f"{server.url}/chat",
        json={"messages": [{"role": "user", "content": "x"}], "task_class": "nope"},
        headers=auth,
    )
    assert unknown.status_code == 422 and "unknown task class" in unknown.json()["detail"]
    bad_org = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "heavy", "messages": [{"role": "user", "content": "x"}]},
        headers={**auth, "X-Phi-Org-Id": "not-a-uuid"},
    )
    assert bad_org.status_code == 422 and "x-phi-org-id" in bad_org.text.lower()
    no_texts = httpx.post(f"{server.url}/embed", json={"texts": []}, headers=auth)
    assert no_texts.status_code == 422 and "texts" in no_texts.text


def test_embeddings_through_the_sdk_match_the_router(sdk, embedder) -> None:
    texts = ["Reach trucks are charged overnight.", "Visitors sign in at reception."]
    as_base64 = sdk.embeddings.create(
        model="multilingual-e5-small", input=texts
    )  # SDK default: base64
    as_float = sdk.embeddings.create(
        model="multilingual-e5-small", input=texts[0], encoding_format="float"
    )
    assert len(as_base64.data) == 2 and len(as_base64.data[0].embedding) == 384
    expected = np.asarray(embedder.embed_passages(texts))
    assert np.allclose(np.asarray([d.embedding for d in as_base64.data]), expected, atol=1e-6)
    assert np.allclose(as_float.data[0].embedding, expected[0], atol=1e-6)
    assert as_base64.usage.prompt_tokens > 0


def test_native_endpoints(service) -> None:
    server, accountant = service
    auth = {"Authorization": f"Bearer {TOKEN}"}
    org = str(uuid.uuid4())
    chat = httpx.post(
        f"{server.url}/chat",
        headers=auth,
        json={
            "messages": [{"role": "user", "content": "Summarise the shift."}],
            "task_class": "heavy",
            "json_schema": SCHEMA,
            "facts": {"headline": "Quiet shift", "items": ["dock 2 closed"]},
            "org_id": org,
        },
    )
    # The fake model answers prose, which breaks the schema, so the builtin composes from the facts.
    assert chat.status_code == 200, chat.text
    body = chat.json()
    assert body["provider"] == "builtin" and body["produced_without_llm"] is True
    assert body["parsed"] == {"headline": "Quiet shift", "items": ["dock 2 closed"]}
    assert str(accountant.records[-1].context.org_id) == org

    complete = httpx.post(
        f"{server.url}/complete", headers=auth, json={"prompt": "Say hi", "task_class": "heavy"}
    )
    assert complete.status_code == 200 and complete.json()["provider"] == "openai"
    embed = httpx.post(
        f"{server.url}/embed",
        headers=auth,
        json={"texts": ["where is dock 2?"], "input_type": "query"},
    )
    assert embed.status_code == 200 and embed.json()["dim"] == 384


@pytest.fixture
async def pg_sessionmaker(database_url: str):
    engine = create_engine(database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def make_budget_org(sm: async_sessionmaker[AsyncSession], budget: int) -> uuid.UUID:
    async with sm() as s, s.begin():
        org = Organization(name="budgeted", monthly_token_budget=budget)
        s.add(org)
        await s.flush()
        return org.id


@pytest.mark.anyio
async def test_budget_429_through_sdk_and_router_client(
    pg_sessionmaker, fake_openai, embedder, serve
) -> None:
    org_id = await make_budget_org(pg_sessionmaker, budget=25)
    router = Router(
        routes(fake_openai.base_url),
        accountant=PostgresAccountant(pg_sessionmaker),
        embedder=embedder,
        env={},
    )
    server = serve(create_app(router, token=TOKEN))
    sdk = openai.AsyncOpenAI(
        base_url=f"{server.url}/v1",
        api_key=TOKEN,
        max_retries=0,
        default_headers={"X-Phi-Org-Id": str(org_id)},
    )
    # Reserves 1 prompt + 10 output tokens, settles at the 18 the model reports.
    await sdk.chat.completions.create(
        model="heavy", messages=[{"role": "user", "content": "hi"}], max_tokens=10
    )
    with pytest.raises(openai.RateLimitError, match="monthly token budget of 25 tokens"):
        await sdk.chat.completions.create(
            model="heavy", messages=[{"role": "user", "content": "hi"}], max_tokens=10
        )

    # An organization nobody created cannot buy unmetered calls.
    stranger = openai.AsyncOpenAI(
        base_url=f"{server.url}/v1",
        api_key=TOKEN,
        max_retries=0,
        default_headers={"X-Phi-Org-Id": str(uuid.uuid4())},
    )
    with pytest.raises(openai.PermissionDeniedError, match="does not exist"):
        await stranger.chat.completions.create(
            model="heavy", messages=[{"role": "user", "content": "hi"}]
        )
    await stranger.close()

    client = RouterClient(server.url, TOKEN)

    with pytest.raises(BudgetExceeded) as refused:
        await client.chat(
            [{"role": "user", "content": "hi"}],
            task_class="heavy",
            max_tokens=10,
            context=CallContext(org_id=org_id),
        )
    assert (refused.value.budget, refused.value.used, refused.value.needed) == (25, 18, 11)
    with pytest.raises(AllProvidersFailed) as down:
        await client.chat([{"role": "user", "content": "hi"}], task_class="broken")
    assert down.value.providers == ["down"] and down.value.http_status == 503
    ok = await client.chat([{"role": "user", "content": "hi"}], task_class="heavy")
    assert ok.provider == "openai" and ok.content == fake_openai.reply
    await client.aclose()
    await sdk.close()


def test_hostile_input_gets_4xx_and_calls_are_counted_in_metrics(service) -> None:
    server, _ = service
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Phi-Org-Id": ORG}
    json_auth = {**auth, "Content-Type": "application/json"}
    for route, body in (
        ("/chat", '{"messages": [{"role": "user", "content": "\\ud800"}]}'),
        ("/chat", '{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'),
        ("/complete", '{"prompt": "x", "max_tokens": Infinity}'),
        ("/v1/chat/completions", '{"model": "heavy", "messages": [], "temperature": NaN}'),
        ("/v1/embeddings", '{"input": "\\udc00"}'),
    ):
        r = httpx.post(f"{server.url}{route}", content=body, headers=json_auth)
        assert r.status_code == 422, (route, r.status_code, r.text)
    r = httpx.post(f"{server.url}/complete", json={"prompt": "x" * 9_000_000}, headers=auth)
    assert r.status_code == 413, r.status_code
    secretish = "Z" * 5000
    r = httpx.post(f"{server.url}/chat", json={"messages": secretish}, headers=auth)
    assert r.status_code == 422 and "Z" * 50 not in r.text

    r = httpx.post(
        f"{server.url}/chat",
        json={"messages": [{"role": "user", "content": "hello"}], "org_id": ORG},
        headers={**auth, "X-Request-ID": "router-call-1"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-ID"] == "router-call-1"
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200  # public, like /health
    assert 'phi_llm_calls_total{operation="chat"' in metrics.text
    assert 'phi_http_requests_total{method="POST",route="/chat"' in metrics.text.replace(
        'service="llm-router",', ""
    )
    assert httpx.get(f"{server.url}/ready").status_code == 200


def test_json_nested_too_deep_gets_422_on_every_route_and_the_connection_stays(service) -> None:
    """Deep nesting used to raise RecursionError in the input guard: a 500 that dropped the
    connection. Every route that takes a body now answers 422 on the same connection."""
    server, _ = service
    spec = httpx.get(f"{server.url}/openapi.json").json()
    routes = [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert {("POST", "/chat"), ("POST", "/v1/chat/completions"), ("POST", "/embed")} <= set(routes)
    deep = '{"messages": ' + "[" * 50_000 + "]" * 50_000 + "}"
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-Phi-Org-Id": ORG,
        "Content-Type": "application/json",
    }
    local_ports = set()
    with httpx.Client(base_url=server.url, headers=headers) as c:
        for method, path in routes:
            r = c.request(method, path, content=deep)
            assert r.status_code == 422, (method, path, r.status_code, r.text[:300])
            assert "nested more than" in r.text
            local_ports.add(r.extensions["network_stream"].get_extra_info("client_addr"))
        assert c.get("/v1/models").status_code == 200
    # One connection served all of them: none was dropped.
    assert len(local_ports) == 1, local_ports


def test_metrics_token_and_address_of_their_own(serve, fake_openai, embedder) -> None:
    """/metrics is open by default (above); PHI_METRICS_TOKEN closes it to others, and
    PHI_METRICS_PORT moves it off the service's port."""
    from phi_platform.embedded_pg import free_port

    metrics_token = "router-metrics-" + "m" * 24
    port = free_port()
    router = Router(routes(fake_openai.base_url), embedder=embedder, env={})
    settings = RouterServiceSettings(
        llm_accounting="none", metrics_token=metrics_token, metrics_port=port
    )
    server = serve(create_app(router, token=TOKEN, settings=settings))
    assert httpx.get(f"{server.url}/metrics").status_code == 404
    # Neither the service token nor nothing opens the metrics page.
    page = f"http://127.0.0.1:{port}/metrics"
    assert httpx.get(page).status_code == 401
    assert httpx.get(page, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    r = httpx.get(page, headers={"Authorization": f"Bearer {metrics_token}"})
    assert r.status_code == 200 and "phi_http_requests_total" in r.text


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "db_query",
            "description": "Run one read-only SELECT",
            "parameters": {
                "type": "object",
                "properties": {"sql": {"type": "string"}},
                "required": ["sql"],
            },
        },
    }
]
CALL = '[{"name": "db_query", "arguments": {"sql": "SELECT 1"}}]'


def test_tool_calls_through_the_sdk(sdk, fake_openai) -> None:
    fake_openai.script.extend([f"calls:{CALL}", "ok"])
    first = sdk.chat.completions.create(
        model="remote_only",
        messages=[{"role": "user", "content": "How many?"}],
        tools=TOOLS,
        tool_choice="required",
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "db_query" and json.loads(call.function.arguments) == {
        "sql": "SELECT 1"
    }
    sent = fake_openai.requests[-1]["body"]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "required"
    second = sdk.chat.completions.create(
        model="remote_only",
        messages=[
            {"role": "user", "content": "How many?"},
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": '{"rows": [[1]]}'},
        ],
        tools=TOOLS,
    )
    assert second.choices[0].message.content == fake_openai.reply
    replayed = fake_openai.requests[-1]["body"]["messages"]
    assert replayed[1]["tool_calls"][0]["id"] == call.id
    assert replayed[2]["role"] == "tool" and replayed[2]["tool_call_id"] == call.id


@pytest.mark.anyio
async def test_tool_calls_through_the_router_client(service, fake_openai) -> None:
    server, _ = service
    client = RouterClient(server.url, TOKEN)
    fake_openai.script.append(f"calls:{CALL}")
    result = await client.chat(
        [{"role": "user", "content": "How many?"}],
        task_class="remote_only",
        tools=TOOLS,
        context=CallContext(org_id=uuid.UUID(ORG)),
    )
    assert [c["function"]["name"] for c in result.tool_calls] == ["db_query"]
    assert fake_openai.requests[-1]["body"]["tools"] == TOOLS
    assert await client.supports_tools("remote_only")
    # builtin cannot pick tools: a route with only builtin says no.
    assert not await client.supports_tools("default")
    await client.aclose()
