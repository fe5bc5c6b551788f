"""Validation of lookups: hosts, URLs, secrets, exits, saved paths and the variables they save.

`LOOKUP_CASES` joins tests/test_validation.py's table (a flow with each problem, and the nearest
one without), so every code is checked there like the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from jaxl_designer.core.diff import diff
from jaxl_designer.core.fileformat import loads
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.validation import CODES, error_summary, validate

HOST = "api.example.com"
URL = f"https://{HOST}/orders/{{metadata.order_id}}"
Where = tuple[str | None, tuple[str, str, str] | None]


def lookup_flow(**fields: Any) -> Flow:
    """Look an order up, then say its status; fields replace the lookup's own."""
    flow = Flow("orders")
    flow.allowed_hosts = [HOST]
    flow.lookup(
        "find",
        URL,
        save={"status": "order.status"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        ok="say",
        failed="sorry",
        timed_out="sorry",
    )
    if fields:
        flow.update("find", **fields)
    flow.hangup("say", "Your order is {status}.")
    flow.hangup("sorry", "Sorry, we cannot look that up.")
    return flow


def _bad_url(bad: bool) -> Flow:
    return lookup_flow(url=f"ftp://{HOST}/orders" if bad else URL)


def _host_not_allowed(bad: bool) -> Flow:
    flow = lookup_flow()
    flow.allowed_hosts = ["other.example.com"] if bad else [HOST]
    return flow


def _misplaced_secret(bad: bool) -> Flow:
    return lookup_flow(url=URL + ("?key=${ORDERS_KEY}" if bad else ""))


def _bad_lookup(bad: bool) -> Flow:
    return lookup_flow(save={"status": "" if bad else "order.status"})


def _literal_secret(bad: bool) -> Flow:
    token = "Bearer abc123" if bad else "Bearer ${ORDERS_TOKEN}"
    return lookup_flow(headers={"Authorization": token})


def _templated_host(bad: bool) -> Flow:
    return lookup_flow(url="https://{metadata.region}.example.com/orders" if bad else URL)


#: code: (a flow with (True) and without (False) the problem, where the problem points).
LOOKUP_CASES: dict[str, tuple[Callable[[bool], Flow], Where]] = {
    "bad-url": (_bad_url, ("find", None)),
    "host-not-allowed": (_host_not_allowed, ("find", None)),
    "misplaced-secret": (_misplaced_secret, ("find", None)),
    "bad-lookup": (_bad_lookup, ("find", None)),
    "literal-secret": (_literal_secret, ("find", None)),
    "templated-host": (_templated_host, ("find", None)),
}


def problems(flow: Flow) -> list[str]:
    return [str(problem) for problem in validate(flow)]


def test_the_lookup_flow_is_clean_and_its_codes_have_meanings() -> None:
    assert problems(lookup_flow()) == []
    assert set(LOOKUP_CASES) <= set(CODES)


def test_a_host_not_allowed_names_the_entry_to_add() -> None:
    flow = lookup_flow(url="http://127.0.0.1:8765/orders/{metadata.order_id}")
    assert problems(flow) == [
        "error host-not-allowed find: url host 127.0.0.1:8765 is not on allowed_hosts: add "
        "'127.0.0.1:8765' to the flow's allowed_hosts (an environment's allowed_hosts "
        "replaces them)"
    ]
    summary = error_summary(validate(flow))
    assert summary is not None and "find: url host 127.0.0.1:8765" in summary
    flow.allowed_hosts = ["127.0.0.1"]  # a host without a port allows any port
    assert problems(flow) == []


def test_an_environments_allowed_hosts_replace_the_flows() -> None:
    flow = lookup_flow()
    flow.environments = {"dev": {}, "prod": {"allowed_hosts": ["orders.internal"]}}
    assert problems(flow) == [
        f"error host-not-allowed find: url host {HOST} is not on environment 'prod''s "
        f"allowed_hosts, which replace the flow's: add '{HOST}' there"
    ]
    flow.environments["prod"]["allowed_hosts"].append(HOST)
    assert problems(flow) == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "a lookup needs a url"),
        ("orders/17", "is not http:// or https://"),
        ("https:///orders", "has no host"),
        (f"https://user:pw@{HOST}/orders", "carries a user name or password"),
        (f"https://{HOST}:99999/orders", "cannot be read"),
    ],
)
def test_a_url_that_cannot_be_asked_is_a_bad_url(url: str, said: str) -> None:
    found = [p for p in validate(lookup_flow(url=url)) if p.code == "bad-url"]
    assert len(found) == 1 and found[0].node == "find" and said in found[0].message


def test_secrets_are_read_in_header_values_only() -> None:
    flow = lookup_flow(
        body={"order": "{metadata.order_id}", "key": "${ORDERS_KEY}"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}", "X-${NAME}": "1"},
        method="POST",
    )
    found = [p.message for p in validate(flow) if p.code == "misplaced-secret"]
    assert found == [
        "body reads ${ORDERS_KEY}, which is sent as written: secrets are read in header "
        "values only",
        "header name 'X-${NAME}' reads a secret: secrets are read in header values only",
    ]
    assert not [p for p in validate(flow) if p.code == "maybe-unset"], "${X} is no {X}"


@pytest.mark.parametrize(
    ("headers", "warned"),
    [
        ({"Authorization": "Basic dXNlcjpwdw=="}, ["Authorization"]),
        ({"X-Api-Key": "k-123", "Accept-Language": "en"}, ["X-Api-Key"]),
        ({"X-Auth-Token": "Bearer ${T}", "Cookie": "session=abc"}, ["Cookie"]),
        ({"X-Trace": "abc"}, []),
    ],
)
def test_a_credential_header_with_a_literal_value_is_warned(
    headers: dict[str, str], warned: list[str]
) -> None:
    found = [p for p in validate(lookup_flow(headers=headers)) if p.code == "literal-secret"]
    assert [p.message.split()[1] for p in found] == warned
    assert all(p.severity == "warning" and "${NAME}" in p.message for p in found)


def test_a_lookup_without_ok_or_failed_is_missing_an_exit() -> None:
    flow = lookup_flow()
    flow.disconnect("find", "ok")
    flow.disconnect("find", "failed")
    found = [str(p) for p in validate(flow) if p.code == "missing-exit"]
    assert found == [
        "error missing-exit find: a lookup needs an `ok` edge (taken with the answer saved)",
        "error missing-exit find: a lookup needs a `failed` edge (taken when the backend fails)",
    ]
    flow = lookup_flow()
    flow.disconnect("find", "timeout")  # a timeout then takes the failed way
    assert problems(flow) == []


def test_method_timeout_and_saved_names_are_checked_for_flows_built_in_code() -> None:
    flow = lookup_flow(method="FETCH", timeout=30, save={"two words": "a", "ok": "[]"})
    found = [p.message for p in validate(flow) if p.code == "bad-lookup"]
    assert found == [
        "method 'FETCH' is not one of GET, POST, PUT, PATCH, DELETE",
        "timeout 30 is not a number of seconds above 0 and at most 10",
        "save 'two words': not a variable name (letters, digits, _)",
        "save ok: the path is empty (name a field of the answer, like order.status)",
    ]


def test_a_saved_variable_is_set_on_the_ok_way_only() -> None:
    flow = lookup_flow()
    assert problems(flow) == [], "{status} after ok is set"
    flow.update("sorry", prompt=["Sorry, order status {status} is unknown."])
    assert problems(flow) == ["error maybe-unset sorry: {status} may be unset here"]


def test_a_url_or_body_reading_an_unset_variable_is_maybe_unset() -> None:
    flow = lookup_flow(url=f"https://{HOST}/orders/{{order}}", body={"who": "{caller_name}"})
    assert [str(p) for p in validate(flow) if p.code == "maybe-unset"] == [
        "error maybe-unset find: {caller_name} is never collected",
        "error maybe-unset find: {order} is never collected",
    ]


def test_a_lookup_retried_without_the_caller_is_a_silent_loop() -> None:
    flow = lookup_flow()
    flow.say("sorry", "Trying again.", then="find")
    assert "silent-loop" in [p.code for p in validate(flow)]


def test_a_flow_file_with_a_secret_in_its_url_loads_and_fails_validation() -> None:
    document = lookup_flow(url=f"https://{HOST}/o?token=${{TOKEN}}").to_document()
    flow = loads(json.dumps(document))
    summary = error_summary(validate(flow))
    assert summary == (
        "this flow has 1 error: find: url reads ${TOKEN}, which is sent as written (and "
        "logged): secrets are read in header values only"
    )


def test_a_diff_says_when_allowed_hosts_or_a_lookup_changed() -> None:
    old, new = lookup_flow(), lookup_flow(timeout=5)
    new.allowed_hosts = [HOST, "127.0.0.1:8765"]
    new.update("find", save={"status": "order.state"})
    assert str(diff(old, new)).splitlines() == [
        f"allowed_hosts changed from ['{HOST}'] to ['{HOST}', '127.0.0.1:8765']",
        "node find: timeout set to 5",
        "node find: save.status changed from 'order.status' to 'order.state'",
    ]
