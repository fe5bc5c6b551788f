"""The designer's session without widgets: edits and undo, selection, the call, files, listeners."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import load, save
from jaxl_designer.core.flow import Flow
from jaxl_designer.editing.session import EditingSession, Message


@pytest.fixture
def session() -> EditingSession:
    return EditingSession(acme())


def test_edits_undo_and_redo_by_name() -> None:
    flow = Flow("demo")
    session = EditingSession(flow)
    assert session.add("main", "menu") == Message("added menu main")
    assert session.add("bye", "hangup") == Message("added hangup bye")
    assert session.undo_label == "added hangup bye"
    assert session.undo() == Message("undid: added hangup bye")
    assert flow.nodes == ["main"] and session.selected == ""
    assert session.redo_label == "added hangup bye"
    assert session.redo().ok
    assert session.flow is flow and flow.nodes == ["main", "bye"]
    session.undo(), session.undo()
    assert session.undo() == Message("nothing to undo", error=True)
    assert session.message == Message("nothing to undo", error=True)


def test_an_edit_that_raises_leaves_the_flow_as_it_was(session: EditingSession) -> None:
    before = session.flow.to_document()

    def half_done(flow: Flow) -> None:
        flow.remove("sales")
        flow.rename("order", "main")  # main exists: ValueError, after sales is gone

    message = session.edit("reshuffle", half_done)
    assert message.error and message.text == "reshuffle: a node 'main' already exists"
    assert session.flow.to_document() == before
    assert session.undo_label is None

    def broken(flow: Flow) -> None:
        flow.remove("sales")
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        session.edit("a bug", broken)
    assert session.flow.to_document() == before


def test_a_removed_node_is_no_longer_selected(session: EditingSession) -> None:
    session.select("sales")
    assert session.selected == "sales"
    assert session.remove() == Message("deleted sales")
    assert session.selected == ""
    assert session.remove() == Message("select a node first", error=True)
    session.select("thanks")
    session.flow.remove("thanks")  # from code
    session.refresh()
    assert session.selected == ""
    # sales and thanks are gone: the keys that led to them are promised but lead nowhere
    problems = {(p.code, p.node) for p in session.problems}
    assert problems == {("missing-key", "main"), ("missing-key", "confirm")}


def test_rename_follows_the_node_and_bad_ids_say_why(session: EditingSession) -> None:
    session.select("thanks")
    assert session.rename("bye") == Message("renamed thanks to bye")
    assert session.selected == "bye" and session.flow.edges("confirm")["1"] == "bye"
    assert session.add("", "say") == Message("give the new node an id", error=True)
    assert session.add("main", "say") == Message("a node 'main' already exists", error=True)
    assert session.connect("9", "main", node="nowhere") == Message("no node 'nowhere'", error=True)


def test_dials_acme_through_to_the_order(session: EditingSession) -> None:
    assert session.dial() == Message("dialled acme: waiting at main")
    assert session.press("2") == Message("press 2: waiting at order")
    assert session.enter("123*") == Message("enter 123*: waiting at confirm")
    assert session.press("1") == Message("press 1: the call has ended")
    assert session.call is not None
    assert session.call.path == ["main", "order", "confirm", "thanks"]
    assert session.call.heard[-1] == "Your order 123 is on its way."
    assert session.press("1") == Message("dial first: there is no call in progress", error=True)


def test_dialing_a_flow_without_an_entry_says_why() -> None:
    session = EditingSession(Flow())
    message = session.dial()
    assert message.error and message.text.startswith("cannot dial:")
    assert session.call is None


def test_listeners_hear_once_per_action_what_changed(session: EditingSession) -> None:
    heard: list[frozenset[str]] = []
    stop = session.listen(heard.append)
    session.select("main")
    session.set_entry("order")
    session.dial()
    session.tell("hello")
    assert heard == [
        {"selection"},
        {"flow", "selection", "message"},
        {"call", "message"},
        {"message"},
    ]
    stop()
    session.select("sales")
    assert len(heard) == 4


def test_a_bad_file_is_one_line_naming_it_and_the_flow_stays(
    tmp_path: Path, session: EditingSession
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {"kind": 7}}}')
    before = session.flow.to_document()
    message = session.load(broken)
    assert message.error and message.text.startswith(f"{broken}: nodes.a.kind: unknown kind 7")
    assert "\n" not in message.text
    assert session.flow.to_document() == before
    assert session.undo_label is None
    missing = session.load(tmp_path / "missing.json")
    assert missing == Message(f"{tmp_path / 'missing.json'}: no such file", error=True)


def test_save_writes_the_file_and_load_reads_it_back(tmp_path: Path) -> None:
    session = EditingSession(acme())
    path = tmp_path / "acme.json"
    assert session.save(path) == Message(f"saved to {path}")
    assert load(path) == acme()
    other = EditingSession(Flow())
    flow = other.flow
    assert other.load(path) == Message(f"loaded {path}")
    assert other.flow is flow and flow == acme() and flow.folder == tmp_path
    assert other.save("") == Message("type a file name to save to", error=True)
    assert other.save(tmp_path / "no" / "such" / "f.json").error


def test_load_takes_the_files_folder_and_undo_gives_the_old_one_back(tmp_path: Path) -> None:
    (tmp_path / "pieces").mkdir()
    save(acme(), tmp_path / "pieces" / "acme.json")
    flow = Flow()
    flow.folder = tmp_path
    session = EditingSession(flow)
    session.load(tmp_path / "pieces" / "acme.json")
    assert flow.folder == tmp_path / "pieces"
    session.undo()
    assert flow.folder == tmp_path and flow.nodes == []


def test_export_writes_the_webhook_or_lists_the_errors(
    tmp_path: Path, session: EditingSession
) -> None:
    assert session.export(tmp_path / "out").text.startswith(f"exported to {tmp_path / 'out'}")
    assert load(tmp_path / "out" / "flow.json") == acme()
    session.flow.disconnect("main_invalid", "next")
    refused = session.export(tmp_path / "refused")
    assert refused.error and "missing-exit main_invalid" in refused.text
    assert not (tmp_path / "refused").exists()


def test_the_session_needs_no_widgets() -> None:
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"ipywidgets", "anywidget", "traitlets", "IPython"}:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        from jaxl_designer.core.examples import acme
        from jaxl_designer.editing.session import EditingSession

        session = EditingSession(acme())
        session.dial()
        print(session.press("1").text)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "press 1: the call has ended\n"


def test_dialling_a_flow_with_errors_says_so_and_still_places_the_call() -> None:
    flow = acme()
    flow.update("sales", phone="12345")
    session = EditingSession(flow)
    said = session.dial()
    assert said.error
    assert said.text.startswith("this flow has 1 error: sales: phone '12345' is not E.164")
    assert said.text.endswith("dialled acme: waiting at main")
    assert session.call is not None and not session.call.ended
    assert not EditingSession(acme()).dial().error, "a sound flow dials quietly"


def test_the_phone_answers_lookups_as_the_session_is_told() -> None:
    from jaxl_designer.core.simulator import Stub

    flow = Flow("orders")
    flow.lookup("find", "http://orders.test/o", save={"s": "status"}, ok="said", failed="sorry")
    flow.hangup("said", "It is {s}.")
    flow.hangup("sorry", "Sorry.")
    flow.allowed_hosts = ["orders.test"]
    session = EditingSession(flow)
    session.dial()
    assert session.call is not None and session.call.heard == ["Sorry."]
    assert "no stub for GET http://orders.test/o" in session.call.script()
    session.lookups = [Stub.json("http://orders.test/o", {"status": "shipped"})]
    session.dial()
    assert session.call is not None and session.call.heard == ["It is shipped."]
