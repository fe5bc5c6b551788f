"""A set node in the designer: its values typed as `name = text` lines, read back, shown, used."""

from __future__ import annotations

import pytest

from jaxl_designer.core.flow import Flow
from jaxl_designer.editing.canvas import CanvasEditor
from jaxl_designer.editing.forms import FORMS, forms, read, shown


def test_the_set_form_has_one_plain_field_typed_a_value_a_line() -> None:
    (field,) = FORMS["set"]
    assert (field.name, field.label, field.input) == ("values", "Values", "lines")
    assert "name = text" in field.help
    sent = forms()
    assert "set" in sent["kinds"]
    assert sent["fields"]["set"][0]["label"] == "Values"


def test_the_transfer_phone_help_says_a_number_may_come_from_a_variable() -> None:
    phone = next(field for field in FORMS["transfer"] if field.name == "phone")
    assert "{agent_phone}" in phone.help


def test_typed_lines_become_values_in_order() -> None:
    typed = "agent_phone = +9180000{code}\n\n  greeting=Hello {metadata.name}, 2 + 2 = 4  \n"
    values = read("set", "values", typed)
    assert values == {
        "agent_phone": "+9180000{code}",
        "greeting": "Hello {metadata.name}, 2 + 2 = 4",
    }
    assert list(values) == ["agent_phone", "greeting"]
    assert read("set", "values", "empty =") == {"empty": ""}
    assert read("set", "values", "   \n") == {}


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        (
            "code = 1\nagent phone = +91{code}",
            'Values: line 2: "agent phone" is not a variable name',
        ),
        ("= +91", 'Values: line 1: "" is not a variable name'),
        ("2fa = on", 'Values: line 1: "2fa" is not a variable name'),
        ("a = 1\n\nagent_phone", 'Values: line 3: no "=" (write name = text)'),
        ("a = 1\na = 2", 'Values: line 2: "a" is set twice'),
    ],
)
def test_a_bad_line_is_one_error_naming_its_line(typed: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        read("set", "values", typed)
    assert str(caught.value) == error


def test_values_are_shown_a_line_each_and_read_back_the_same() -> None:
    values = {"agent_phone": "+9180000{code}", "greeting": "Hello = hi"}
    text = shown("set", {"kind": "set", "values": values})["values"]
    assert text == "agent_phone = +9180000{code}\ngreeting = Hello = hi"
    assert read("set", "values", text) == values
    assert shown("set", {"kind": "set"}) == {"values": ""}


def test_typing_values_in_the_inspector_sets_them_and_a_mistake_changes_nothing() -> None:
    flow = Flow("agents")
    flow.set("pick", {"agent_phone": "+91{code}"}, then="go")
    flow.transfer("go", phone="{agent_phone}", invalid="sorry")
    flow.hangup("sorry", "Sorry.")
    editor = CanvasEditor(flow)
    typed = "agent_phone = +9180000{code}\ngreeting = Hi"
    editor.handle({"type": "apply", "node": "pick", "field": "values", "value": typed})
    assert flow.node("pick")["values"] == {"agent_phone": "+9180000{code}", "greeting": "Hi"}
    card = next(card for card in editor.view()["nodes"] if card["id"] == "pick")
    assert card["fields"]["values"] == typed
    said = editor.handle({"type": "apply", "node": "pick", "field": "values", "value": "a b = 1"})
    assert said == 'Values: line 1: "a b" is not a variable name'
    assert flow.node("pick")["values"] == {"agent_phone": "+9180000{code}", "greeting": "Hi"}


def test_a_set_card_offers_next_and_only_a_transfer_filled_per_call_offers_invalid() -> None:
    flow = Flow("agents")
    flow.set("pick", {"agent_phone": "+91{code}"}, then="go")
    flow.transfer("go", phone="{agent_phone}")
    flow.transfer("sales", phone="+918000000001")
    cards = {card["id"]: card for card in CanvasEditor(flow).view()["nodes"]}
    assert [(e["key"], e["target"]) for e in cards["pick"]["exits"]] == [("next", "go")]
    assert cards["pick"]["lines"] == ["agent_phone = +91{code}"]
    assert [(e["key"], e["target"], e["fallback"]) for e in cards["go"]["exits"]] == [
        ("invalid", None, True)
    ]
    assert cards["go"]["lines"] == ["→ phone from {agent_phone}"]
    assert cards["sales"]["exits"] == []
