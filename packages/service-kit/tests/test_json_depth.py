"""The depth count the input guard makes before anything parses a JSON body."""

from __future__ import annotations

import json
import time

import pytest

from phi_service.guards import MAX_JSON_DEPTH, check_json, json_depth_exceeds


def _nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def _objects(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


@pytest.mark.parametrize("build", [_nested, _objects])
def test_the_limit_is_exact(build) -> None:  # type: ignore[no-untyped-def]
    assert not json_depth_exceeds(build(MAX_JSON_DEPTH))
    assert json_depth_exceeds(build(MAX_JSON_DEPTH + 1))
    json.loads(build(MAX_JSON_DEPTH))  # what passes, parses


def test_depth_that_crashes_the_parser_is_refused_before_parsing() -> None:
    body = _nested(100_000)
    with pytest.raises(RecursionError):
        json.loads(body)
    assert json_depth_exceeds(body)
    kind, msg = check_json(body) or ("", "")
    assert kind == "json_too_deep" and str(MAX_JSON_DEPTH) in msg


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 500 + '\\"{' * 200, "list": [["x]]]]"]]})
    assert not json_depth_exceeds(text.encode())
    assert check_json(text.encode()) is None


def test_escaped_quotes_do_not_end_a_string_early() -> None:
    # The string holds a quote followed by brackets: counting them would be a false alarm;
    # after it, real nesting must still be counted.
    inside = json.dumps({"s": '" ' + "[" * 100})
    assert not json_depth_exceeds(inside.encode())
    deep = '{"s": "\\"", "v": ' + "[" * 70 + "]" * 70 + "}"
    assert json_depth_exceeds(deep.encode())


def test_wide_but_shallow_bodies_pass_and_are_counted_fast() -> None:
    body = ("[" + ",".join(["[1,[2,{}]]"] * 100_000) + "]").encode()
    started = time.perf_counter()
    assert not json_depth_exceeds(body)
    assert time.perf_counter() - started < 2
