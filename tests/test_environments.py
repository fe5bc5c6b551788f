"""Environments: parameters in transfer targets, values per environment, validated and resolved."""

from __future__ import annotations

import pytest

from jaxl_designer import Simulator, loads, validate
from jaxl_designer.core.environments import ResolveError, missing, parameters, resolve
from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import dumps


def parameterised_acme():
    flow = acme()
    flow.update("sales", phone="{{sales_phone}}")
    flow.environments = {
        "dev": {"sales_phone": "+911000000001"},
        "prod": {"sales_phone": "+918000000001"},
    }
    return flow


def test_parameters_and_values_round_trip_through_the_file() -> None:
    flow = parameterised_acme()
    again = loads(dumps(flow))
    assert again == flow
    assert again.environments["prod"] == {"sales_phone": "+918000000001"}
    assert parameters(again) == {"sales_phone": [("sales", "phone")]}


def test_the_simulator_runs_any_environment() -> None:
    flow = parameterised_acme()
    for env, number in (("dev", "+911000000001"), ("prod", "+918000000001")):
        call = Simulator(flow, env=env).dial()
        call.press("1")
        call.assert_transferred(phone=number)


def test_a_flow_with_parameters_needs_an_environment_to_run() -> None:
    with pytest.raises(ResolveError, match="choose an environment"):
        Simulator(parameterised_acme())
    with pytest.raises(ResolveError, match=r"no environment 'qa'.*dev, prod"):
        Simulator(parameterised_acme(), env="qa")


def test_validation_checks_each_environment_is_complete_and_valid() -> None:
    flow = parameterised_acme()
    assert validate(flow) == []
    flow.environments["qa"] = {}
    flow.environments["prod"]["sales_phone"] = "8000"
    found = {(p.code, p.node) for p in validate(flow)}
    assert ("missing-parameter", "sales") in found
    assert ("bad-phone", "sales") in found
    assert missing(flow) == {"qa": ["sales_phone"]}


def test_team_ids_can_be_parameters_too() -> None:
    flow = acme()
    flow.update("sales", phone=None, teams="{{sales_team}}")
    flow.environments = {"prod": {"sales_team": 42}}
    resolved = resolve(flow, "prod")
    assert resolved.node("sales")["teams"] == [42]
    assert flow.node("sales")["teams"] == "{{sales_team}}"  # the original is untouched
