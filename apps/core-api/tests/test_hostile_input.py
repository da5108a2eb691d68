"""Hostile input on every route of the core API: oversized bodies get 413 before they are
read, JSON the API cannot store (NaN, Infinity, lone surrogates) or nested too deep to parse
gets 422, and no error repeats a secret or more than a short prefix of what was sent. Never
a 500."""

from __future__ import annotations

import re
import socket
import time
import uuid
from typing import Any

import httpx
import pytest
from core_factories import create_agent, create_org, signup

from phi_core_api.main import create_app
from phi_service.guards import MAX_JSON_DEPTH

SPEC = create_app().openapi()
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def _operations(content_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if content_type in content:
                found.append((method.upper(), path, content[content_type]["schema"]))
    return found


JSON_ROUTES = _operations("application/json")
UPLOAD_ROUTES = _operations("multipart/form-data")


def _schema(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if ref:
        return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return ref_or_schema


def _fields(schema: dict[str, Any]) -> list[str]:
    return list(_schema(schema).get("properties", {})) or ["value"]


@pytest.fixture(scope="module")
def ids(live_server: Any) -> dict[str, str]:
    """Real ids for the path parameters, so the request reaches the route's own checks."""
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        owner = signup(c)
        org = create_org(c, owner)
        agent = create_agent(c, owner, org["id"])
    return {
        "org_id": org["id"],
        "agent_id": agent["id"],
        "token": owner.token,
    }


def _path(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), ZERO_ID), path)


def _raw_request(url: str, request: bytes, timeout: float = 10) -> tuple[int, float]:
    """Send ``request`` on a plain socket; the status line's code and the seconds it took."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), time.monotonic() - started


def test_the_spec_has_routes_to_test() -> None:
    assert len(JSON_ROUTES) >= 8 and UPLOAD_ROUTES


@pytest.mark.parametrize(("method", "path", "schema"), JSON_ROUTES, ids=lambda v: str(v)[:60])
def test_oversized_json_body_is_refused_before_it_is_read(
    live_server: Any, ids: dict[str, str], method: str, path: str, schema: Any
) -> None:
    # 400 MB announced, nothing sent: the answer comes at once, without waiting for the body.
    request = (
        f"{method} {_path(path, ids)} HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {ids['token']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {400 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, seconds = _raw_request(live_server.url, request)
    assert status == 413, (method, path, status)
    assert seconds < 5


def test_a_body_just_over_the_json_limit_is_refused_but_an_upload_of_that_size_is_not(
    client: httpx.Client, live_server: Any, ids: dict[str, str]
) -> None:
    limit = live_server.settings.max_request_bytes
    big = '{"email": "a@example.com", "password": "' + "x" * limit + '"}'
    r = client.post("/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    upload = client.post(
        f"/agents/{ids['agent_id']}/documents",
        files={"file": ("big.txt", b"Check the seal. " * (limit // 16 + 100), "text/plain")},
        data={"source_type": "SOP"},
        headers={"Authorization": f"Bearer {ids['token']}"},
    )
    assert upload.status_code == 202, upload.text[:300]


HOSTILE_VALUES = {
    "lone surrogate": '"abc\\ud800def"',
    "lone low surrogate": '"\\udc00"',
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
}


@pytest.mark.parametrize("kind", list(HOSTILE_VALUES))
@pytest.mark.parametrize(("method", "path", "schema"), JSON_ROUTES, ids=lambda v: str(v)[:60])
def test_unstorable_json_values_get_422_on_every_field(
    client: httpx.Client,
    ids: dict[str, str],
    method: str,
    path: str,
    schema: Any,
    kind: str,
) -> None:
    headers = {"Authorization": f"Bearer {ids['token']}", "Content-Type": "application/json"}
    for field in _fields(schema):
        body = f'{{"{field}": {HOSTILE_VALUES[kind]}}}'
        r = client.request(method, _path(path, ids), content=body, headers=headers)
        assert r.status_code == 422, (method, path, field, r.status_code, r.text[:300])
        assert r.json()["detail"][0]["loc"] == ["body"]


def _deep(field: str, depth: int) -> str:
    return f'{{"{field}": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(("method", "path", "schema"), JSON_ROUTES, ids=lambda v: str(v)[:60])
def test_json_nested_too_deep_gets_422_with_or_without_a_token_or_content_type(
    client: httpx.Client, ids: dict[str, str], method: str, path: str, schema: Any
) -> None:
    field = _fields(schema)[0]
    token = {"Authorization": f"Bearer {ids['token']}"}
    # Deep enough to crash Python's parser (RecursionError: a 500 before the guard counted).
    body = _deep(field, 50_000)
    for headers in (
        {**token, "Content-Type": "application/json"},
        {"Content-Type": "application/json"},
        token,  # FastAPI parses a body without Content-Type as JSON too
    ):
        r = client.request(method, _path(path, ids), content=body, headers=headers)
        assert r.status_code == 422, (method, path, headers.keys(), r.status_code, r.text[:300])
        assert r.json()["detail"][0]["type"] == "json_too_deep"
    # At the limit the body reaches the route's own checks.
    r = client.request(
        method, _path(path, ids), content=_deep(field, MAX_JSON_DEPTH - 1), headers=token
    )
    assert r.status_code < 500 and "json_too_deep" not in r.text, (method, path, r.text[:300])


def test_the_connection_survives_a_deep_json_refusal(live_server: Any) -> None:
    """A 500 used to drop the keep-alive connection; the 422 leaves it usable."""
    body = _deep("email", 50_000).encode()
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        for _ in range(2):
            s.sendall(
                b"POST /auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                assert chunk, "the server closed the connection"
                head += chunk
            status_line, rest = head.split(b"\r\n", 1)
            assert b" 422 " in status_line, status_line
            headers, received = rest.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: (\d+)", headers).group(1))  # type: ignore[union-attr]
            while len(received) < length:
                received += s.recv(65536)
            assert b"connection: close" not in headers.lower()


@pytest.mark.parametrize(("method", "path", "schema"), JSON_ROUTES, ids=lambda v: str(v)[:60])
def test_validation_errors_repeat_no_secret_and_only_a_short_prefix(
    client: httpx.Client, ids: dict[str, str], method: str, path: str, schema: Any
) -> None:
    headers = {"Authorization": f"Bearer {ids['token']}"}
    marker = uuid.uuid4().hex
    long_text = marker + "Z" * 100_000
    for field in _fields(schema):
        # A long string where a field wants something else (or too long a string), and an
        # object where it wants a string: either way a 422 that names the field.
        for value in (long_text, {"nested": long_text}, [long_text] * 3):
            r = client.request(method, _path(path, ids), json={field: value}, headers=headers)
            assert r.status_code != 500, (method, path, field, r.text[:300])
            assert "Z" * 50 not in r.text, (method, path, field, r.text[:300])
            assert len(r.text) < 20_000, (method, path, field, len(r.text))


def test_a_password_is_never_repeated(client: httpx.Client) -> None:
    secret = "hunter2-" + uuid.uuid4().hex
    for body in (
        {"email": "not an email", "password": secret},
        {"email": "a@example.com", "password": {"p": secret}},
        {"email": "a@example.com", "password": secret * 1000},
    ):
        for route in ("/auth/login", "/auth/signup"):
            r = client.post(route, json=body)
            assert r.status_code in (401, 422), r.text[:300]
            assert secret not in r.text and "hunter2" not in r.text, (route, r.text[:300])


def _all_operations() -> list[tuple[str, str, list[dict[str, Any]]]]:
    return [
        (method.upper(), path, op.get("parameters", []))
        for path, ops in SPEC["paths"].items()
        for method, op in ops.items()
    ]


HOSTILE_PARAMS = [
    "%ED%A0%80",  # the UTF-8 bytes of a lone surrogate
    "%FF%FE",  # not UTF-8 at all
    "NaN",
    "-Infinity",
    "9" * 400,
    "%00",
    "Z" * 5000,
]


@pytest.mark.parametrize(("method", "path", "params"), _all_operations(), ids=lambda v: str(v)[:60])
def test_hostile_path_and_query_values_never_give_500(
    live_server: Any, ids: dict[str, str], method: str, path: str, params: list[dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {ids['token']}"}
    path_params = [p["name"] for p in params if p["in"] == "path"]
    query_params = [p["name"] for p in params if p["in"] == "query"]
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        for value in HOSTILE_PARAMS:
            targets = [(name, None) for name in path_params] + [(None, q) for q in query_params]
            for in_path, in_query in targets or [(None, None)]:
                url = re.sub(
                    r"\{(\w+)\}",
                    lambda m, v=value, t=in_path: (
                        v if m.group(1) == t else ids.get(m.group(1), ZERO_ID)
                    ),
                    path,
                )
                if in_query:
                    url += f"?{in_query}={value}"
                r = c.request(method, url, headers=headers)
                assert r.status_code < 500, (method, url[:120], r.status_code, r.text[:300])
                assert "Z" * 50 not in r.text, (method, url[:120], r.text[:300])
