"""Flow diff: every kind of change in words, layout ignored (the drawing: test_drawing_diff.py)."""

from __future__ import annotations

from jaxl_designer.core.diff import diff
from jaxl_designer.core.examples import acme, business_hours


def lines(old, new) -> list[str]:
    return str(diff(old, new)).splitlines()


def test_the_same_flow_has_no_changes() -> None:
    changes = diff(acme(), acme())
    assert not changes
    assert str(changes) == "no changes"


def test_moved_nodes_alone_are_not_changes_and_it_says_so() -> None:
    new = acme()
    new.layout = {"main": [10.0, 20.0], "sales": [30.0, 40.0]}
    changes = diff(acme(), new)
    assert not changes and changes.layout_moved
    assert str(changes) == "no changes (only the layout differs)"


def test_a_changed_prompt_line_is_named_with_old_and_new_words() -> None:
    new = acme()
    new.update(
        "confirm", prompt=["You entered {order}.", "Press 1 to accept.", "Press 2 to re-enter."]
    )
    assert lines(acme(), new) == [
        "node confirm: prompt line 2 changed from 'Press 1 to confirm.' to 'Press 1 to accept.'"
    ]


def test_prompt_lines_added_and_removed() -> None:
    new = acme()
    new.update("thanks", prompt=["Thank you.", "Goodbye.", "Your order {order} is on its way."])
    assert lines(acme(), new) == ["node thanks: prompt line 2 added: 'Goodbye.'"]
    assert lines(new, acme()) == ["node thanks: prompt line 2 removed (was 'Goodbye.')"]


def test_a_changed_kind_and_the_fields_that_came_and_went() -> None:
    new = acme()
    new.add("main_invalid", "hangup", prompt=["Sorry, that is not a valid choice."])
    new.update("main", max_invalid=3)
    new.update("order", terminator=None, length=6)
    assert lines(acme(), new) == [
        "node main: max_invalid set to 3",
        "node order: terminator removed (was '*')",
        "node order: length set to 6",
        "node main_invalid: kind changed from say to hangup",
    ]


def test_edges_added_removed_and_retargeted() -> None:
    new = acme()
    new.connect("main", "3", "sales")
    new.connect("main", "2", "sales")
    new.disconnect("main", "9")
    assert lines(acme(), new) == [
        "main: key 2 now goes to sales (was order)",
        "main: key 3 added → sales",
        "main: key 9 removed (went to main)",
    ]


def test_named_edges_are_words_not_keys() -> None:
    new = acme()
    new.connect("main", "invalid", "main")
    assert lines(acme(), new) == ["main: invalid edge now goes to main (was main_invalid)"]


def test_nodes_added_and_removed_with_their_edges() -> None:
    new = acme()
    new.remove("thanks")
    new.hangup("bye", "Goodbye.")
    new.connect("confirm", "1", "bye")
    assert lines(acme(), new) == [
        "confirm: key 1 now goes to bye (was thanks)",
        "node thanks removed (hangup)",
        "node bye added (hangup)",
    ]


def test_entry_name_and_description() -> None:
    new = acme()
    new.name, new.entry, new.description = "acme2", "confirm", ""
    assert lines(acme(), new) == [
        "name changed from 'acme' to 'acme2'",
        'description removed (was "Acme\'s front desk: sales, or check an order by its number.")',
        "entry changed from main to confirm",
    ]


def test_a_branch_rule_change_names_the_rule_and_field() -> None:
    new = business_hours()
    rules = new.node("hours")["rules"]
    rules[0]["end"] = "17:00"
    new.update("hours", rules=rules)
    assert lines(business_hours(), new) == [
        "node hours: rules[1].end changed from '18:00' to '17:00'"
    ]
