// What the inspector does with typed text, checked on the pure logic behind it.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  APPLY_DELAY,
  Drafts,
  ID_RULE,
  NEW_PREFIX,
  answerTo,
  exitRequest,
  formField,
  idProblem,
  sameText,
  targetChoices,
  unusedKeys,
} from "../src/inspector.js";
import { MENU_KEYS } from "../src/view.js";

// Part of Python's forms() (editing/forms.py), with its real labels and inputs.
const NODE_ID = "[A-Za-z0-9_][A-Za-z0-9_.-]*";
const tries = { name: "max_invalid", label: "Tries before giving up", help: "", input: "number", choices: [] };
const prompt = { name: "prompt", label: "What the caller hears", help: "", input: "lines", choices: [] };
const FORMS = {
  kinds: ["menu", "collect", "say", "transfer", "branch"],
  fields: {
    menu: [prompt, tries],
    collect: [
      prompt,
      { name: "var", label: "Save digits as", help: "", input: "text", choices: [] },
      { name: "length", label: "Exactly this many digits", help: "", input: "number", choices: [] },
      tries,
    ],
    transfer: [{ name: "devices", label: "Devices", help: "", input: "numbers", choices: [] }],
    branch: [{ name: "rules", label: "Rules", help: "", input: "json", choices: [] }],
  },
  node_id: NODE_ID,
};

/** A view as Python sends it, with each node's fields as the text its form shows. */
function viewOf(fields = {}) {
  const base = {
    main: { kind: "menu", fields: { prompt: "Welcome.\nPress 1.", max_invalid: "3" } },
    ask: { kind: "collect", fields: { prompt: "Your account?", var: "account", length: "4", max_invalid: "" } },
    agent: { kind: "transfer", fields: { devices: "1, 2" } },
  };
  return {
    nodes: Object.entries(base).map(([id, node]) => ({
      id,
      kind: node.kind,
      fields: { ...node.fields, ...(fields[id] || {}) },
    })),
  };
}

/** setTimeout/clearTimeout that only run when the test says time has passed. */
function fakeClock() {
  let next = 0;
  const timers = new Map();
  return {
    setTimer: (callback, ms) => {
      next += 1;
      timers.set(next, { callback, ms });
      return next;
    },
    clearTimer: (id) => {
      timers.delete(id);
    },
    /** The delays of the timers still waiting. */
    waiting: () => [...timers.values()].map((timer) => timer.ms),
    /** The delay passes: every waiting timer fires. */
    pass: () => {
      const due = [...timers.values()];
      timers.clear();
      for (const timer of due) timer.callback();
    },
  };
}

/** Drafts seeing the view above, sending into `sent`, on a fake clock. */
function setup() {
  const clock = fakeClock();
  const sent = [];
  const drafts = new Drafts({ send: (request) => sent.push(request), setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  drafts.see(viewOf(), FORMS);
  return { drafts, sent, clock };
}

const apply = (node, field, value) => ({ type: "apply", node, field, value });
let serial = 0;
const said = (text, error = false) => ({ text, error, serial: ++serial });

// -- idProblem ------------------------------------------------------------------------------

const IDS = ["main", "sales", "ask"];

test("an empty or blank id asks for one", () => {
  assert.equal(idProblem("", "main", IDS, NODE_ID), "give the node an id");
  assert.equal(idProblem("   ", "main", IDS, NODE_ID), "give the node an id");
});

test("the node's own id is fine (nothing to rename)", () => {
  assert.equal(idProblem("main", "main", IDS, NODE_ID), null);
});

test("an id with a space or a slash is refused with the id rule", () => {
  assert.equal(idProblem("sales desk", "main", IDS, NODE_ID), ID_RULE);
  assert.equal(idProblem("a/b", "main", IDS, NODE_ID), ID_RULE);
  assert.equal(idProblem("lib@x", "main", IDS, NODE_ID), ID_RULE);
});

test("an id starting with - or . says which character it may not start with", () => {
  assert.equal(idProblem("-x", "main", IDS, NODE_ID), `${ID_RULE}, not starting with -`);
  assert.equal(idProblem(".x", "main", IDS, NODE_ID), `${ID_RULE}, not starting with .`);
});

test("another node's id is refused by name", () => {
  assert.equal(idProblem("sales", "main", IDS, NODE_ID), "a node ‘sales’ already exists");
});

test("a new id of letters, digits, _ - . can be sent", () => {
  assert.equal(idProblem("billing", "main", IDS, NODE_ID), null);
  assert.equal(idProblem("billing-2.v_1", "main", IDS, NODE_ID), null);
  assert.equal(idProblem("_x", "main", IDS, NODE_ID), null);
});

test("before the forms arrive (no pattern) only blanks and duplicates are caught", () => {
  assert.equal(idProblem("sales desk", "main", IDS, ""), null);
  assert.equal(idProblem("sales", "main", IDS, ""), "a node ‘sales’ already exists");
  assert.equal(idProblem("x", "main", undefined, ""), null);
});

// -- sameText -------------------------------------------------------------------------------

test("lines: blank lines and spaces around lines do not change a prompt", () => {
  assert.ok(sameText("lines", "Hello.\n\n  Press 1.  \n", "Hello.\nPress 1."));
  assert.ok(sameText("lines", "Hello.\r\nPress 1.", "Hello.\nPress 1."));
  assert.ok(!sameText("lines", "Hello.\nPress 2.", "Hello.\nPress 1."));
  assert.ok(!sameText("lines", "Press 1.\nHello.", "Hello.\nPress 1."));
  assert.ok(!sameText("lines", "Hello. Press 1.", "Hello.\nPress 1."));
});

test("numbers: spaces, empty parts and leading zeros do not change the list", () => {
  assert.ok(sameText("numbers", "1,2", "1, 2"));
  assert.ok(sameText("numbers", " 1 , 2 , ", "1, 2"));
  assert.ok(sameText("numbers", "1, 02", "1, 2"));
  assert.ok(sameText("numbers", "+3", "3"));
  assert.ok(!sameText("numbers", "1, 3", "1, 2"));
  assert.ok(!sameText("numbers", "2, 1", "1, 2"));
  assert.ok(!sameText("numbers", "12", "1, 2"));
  assert.ok(!sameText("numbers", "1, x", "1"));
});

test("number: a whole number is compared by value, anything else as typed", () => {
  assert.ok(sameText("number", "007", "7"));
  assert.ok(sameText("number", " +7 ", "7"));
  assert.ok(sameText("number", "-0", "0"));
  assert.ok(!sameText("number", "7", "8"));
  assert.ok(!sameText("number", "seven", "7"));
  assert.ok(!sameText("number", "7.0", "7"));
  assert.ok(sameText("number", "", "  "));
  // Long numbers (an IVR's number) are not rounded into each other.
  assert.ok(!sameText("number", "12345678901234567", "12345678901234568"));
});

test("json: the same data written another way is the same, other data is not", () => {
  assert.ok(sameText("json", '{"a": 1, "b": [1,2]}', '{\n "a": 1,\n "b": [\n  1,\n  2\n ]\n}'));
  assert.ok(!sameText("json", "[1, 2]", "[2, 1]"));
  assert.ok(!sameText("json", '{"a": 1}', '{"a": 2}'));
  // Text that is not JSON yet is compared as typed.
  assert.ok(sameText("json", ' {"a": ', '{"a":'));
  assert.ok(!sameText("json", '{"a": ', '{"a": 1}'));
  assert.ok(sameText("json", "", ""));
});

test("seconds: a number of seconds is compared by value, as Python reads and shows it", () => {
  assert.ok(sameText("seconds", "2.50", "2.5"));
  assert.ok(sameText("seconds", "2.0", "2"));
  assert.ok(sameText("seconds", " 02 ", "2"));
  assert.ok(sameText("seconds", ".5", "0.5"));
  assert.ok(sameText("seconds", "1e1", "10"));
  assert.ok(sameText("seconds", "", "  "));
  assert.ok(!sameText("seconds", "2.5", "2.6"));
  assert.ok(!sameText("seconds", "soon", "2"));
  assert.ok(!sameText("seconds", "2,5", "2.5"), "a comma is no decimal point to Python");
});

test("text: spaces around it do not count, case and inner spaces do", () => {
  assert.ok(sameText("text", " account ", "account"));
  assert.ok(!sameText("text", "Account", "account"));
  assert.ok(!sameText("text", "my account", "myaccount"));
  assert.ok(sameText("text", null, ""));
  assert.ok(sameText("choice", "#", " # "));
});

// -- formField ------------------------------------------------------------------------------

test("formField finds a kind's field by name, and null when there is none", () => {
  assert.equal(formField(FORMS, "collect", "length").label, "Exactly this many digits");
  assert.equal(formField(FORMS, "collect", "phone"), null);
  assert.equal(formField(FORMS, "hangup", "prompt"), null);
  assert.equal(formField(null, "menu", "prompt"), null);
});

// -- answerTo -------------------------------------------------------------------------------

const WAITING = [
  { node: "main", field: "max_invalid", label: "Tries before giving up" },
  { node: "ask", field: "length", label: "Exactly this many digits" },
];

test("'<node>: <label>' says that field was applied", () => {
  assert.deepEqual(answerTo({ text: "ask: exactly this many digits", error: false }, WAITING), {
    node: "ask",
    field: "length",
    error: null,
  });
  assert.deepEqual(answerTo({ text: "main: tries before giving up", error: false }, WAITING), {
    node: "main",
    field: "max_invalid",
    error: null,
  });
});

test("'<Label>: ...' as an error says the text of that field could not be read", () => {
  const text = 'Exactly this many digits: "four" is not a whole number';
  assert.deepEqual(answerTo({ text, error: true }, WAITING), { node: "ask", field: "length", error: text });
});

test("'<node>: <label>: ...' as an error says the flow refused that field's value", () => {
  const text = "main: tries before giving up: must be at least 1";
  assert.deepEqual(answerTo({ text, error: true }, WAITING), { node: "main", field: "max_invalid", error: text });
});

test("a read error of a label two waiting fields share answers the older one", () => {
  const waiting = [
    { node: "ask", field: "max_invalid", label: "Tries before giving up" },
    { node: "main", field: "max_invalid", label: "Tries before giving up" },
  ];
  const text = 'Tries before giving up: "x" is not a whole number';
  assert.equal(answerTo({ text, error: true }, waiting).node, "ask");
});

test("'apply: ...' (a malformed request) answers the oldest waiting field", () => {
  const text = "apply: a malformed request ('value')";
  assert.deepEqual(answerTo({ text, error: true }, WAITING), { node: "main", field: "max_invalid", error: text });
  assert.equal(answerTo({ text, error: true }, []), null);
});

test("messages about something else answer no field", () => {
  assert.equal(answerTo({ text: "added menu menu_1", error: false }, WAITING), null);
  assert.equal(answerTo({ text: "deleted sales", error: true }, WAITING), null);
  // An error only answers a field with something said after the label.
  assert.equal(answerTo({ text: "ask: exactly this many digits", error: true }, WAITING), null);
  // An applied message only answers its own node.
  assert.equal(answerTo({ text: "sales: exactly this many digits", error: false }, WAITING), null);
  assert.equal(answerTo(null, WAITING), null);
  assert.equal(answerTo({ error: true }, WAITING), null);
});

// -- Drafts ---------------------------------------------------------------------------------

test("a field shows the flow's text until something is typed into it", () => {
  const { drafts } = setup();
  assert.equal(drafts.text("main", "prompt"), "Welcome.\nPress 1.");
  assert.equal(drafts.text("main", "nothing"), "");
  assert.equal(drafts.text("gone", "prompt"), "");
  assert.equal(drafts.error("main", "prompt"), null);
  assert.equal(drafts.pending("main", "prompt"), false);
});

test("typed text shows at once and is sent once, the delay after the keystroke", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("ask", "var");
  drafts.type("ask", "var", "acct");
  assert.equal(drafts.text("ask", "var"), "acct");
  assert.equal(drafts.pending("ask", "var"), true);
  assert.deepEqual(sent, [], "nothing is sent while typing");
  assert.deepEqual(clock.waiting(), [APPLY_DELAY]);
  clock.pass();
  assert.deepEqual(sent, [apply("ask", "var", "acct")]);
  clock.pass();
  assert.equal(sent.length, 1, "sent only once");
  assert.equal(drafts.pending("ask", "var"), true, "not saved until Python says so");
});

test("typing again restarts the delay: only the last text is sent", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("ask", "var");
  for (const text of ["a", "ac", "acc"]) drafts.type("ask", "var", text);
  assert.equal(clock.waiting().length, 1, "one timer, not one per keystroke");
  clock.pass();
  assert.deepEqual(sent, [apply("ask", "var", "acc")]);
});

test("each field waits on its own: two fields typed are two requests", () => {
  const { drafts, sent, clock } = setup();
  drafts.type("ask", "var", "pin");
  drafts.type("ask", "length", "6");
  clock.pass();
  assert.deepEqual(sent, [apply("ask", "var", "pin"), apply("ask", "length", "6")]);
});

test("a view arriving before the text is sent does not overwrite it, and it is still sent", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "prompt");
  drafts.type("main", "prompt", "Hi.");
  drafts.see(viewOf({ main: { max_invalid: "5" } }));
  assert.equal(drafts.text("main", "prompt"), "Hi.");
  clock.pass();
  assert.deepEqual(sent, [apply("main", "prompt", "Hi.")]);
});

test("a view arriving while the text is on its way does not overwrite it", () => {
  const { drafts, clock } = setup();
  drafts.focus("main", "prompt");
  drafts.type("main", "prompt", "Hi.");
  clock.pass();
  drafts.see(viewOf({ main: { max_invalid: "5" } }));
  assert.equal(drafts.text("main", "prompt"), "Hi.");
  assert.equal(drafts.pending("main", "prompt"), true);
});

test("a view that shows the typed text ends the draft: later views show again", () => {
  const { drafts, clock } = setup();
  drafts.focus("main", "prompt");
  drafts.type("main", "prompt", "Hi.");
  clock.pass();
  drafts.see(viewOf({ main: { prompt: "Hi." } }));
  assert.equal(drafts.pending("main", "prompt"), false);
  // Undo in Python: the field follows the flow again.
  drafts.see(viewOf());
  assert.equal(drafts.text("main", "prompt"), "Welcome.\nPress 1.");
});

test("a view that already agrees with unsent text drops it, and nothing is sent", () => {
  const { drafts, sent, clock } = setup();
  drafts.type("main", "prompt", "Hi.");
  drafts.see(viewOf({ main: { prompt: "Hi." } }));
  assert.equal(drafts.pending("main", "prompt"), false);
  clock.pass();
  assert.deepEqual(sent, []);
});

test("a prompt Python writes its own way keeps the typed text while typing, then shows Python's", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "prompt");
  drafts.type("main", "prompt", "Hi.\n\nPress 2.\n");
  clock.pass();
  assert.deepEqual(sent, [apply("main", "prompt", "Hi.\n\nPress 2.\n")]);
  drafts.see(viewOf({ main: { prompt: "Hi.\nPress 2." } }));
  assert.equal(drafts.text("main", "prompt"), "Hi.\n\nPress 2.\n", "the cursor's text does not jump");
  assert.equal(drafts.pending("main", "prompt"), false, "saved");
  drafts.blur("main", "prompt");
  assert.equal(drafts.text("main", "prompt"), "Hi.\nPress 2.");
  assert.equal(sent.length, 1);
});

test("a number Python cannot read keeps the typed text and shows the error under it", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "max_invalid");
  drafts.type("main", "max_invalid", "three");
  clock.pass();
  assert.deepEqual(sent, [apply("main", "max_invalid", "three")]);
  const error = 'Tries before giving up: "three" is not a whole number';
  drafts.hear(said(error, true));
  assert.equal(drafts.text("main", "max_invalid"), "three");
  assert.equal(drafts.error("main", "max_invalid"), error);
  assert.equal(drafts.pending("main", "max_invalid"), false);
  // Leaving the field, or another view, does not take the typed text away.
  drafts.blur("main", "max_invalid");
  drafts.see(viewOf({ ask: { var: "pin" } }));
  assert.equal(drafts.text("main", "max_invalid"), "three");
  assert.equal(drafts.error("main", "max_invalid"), error);
  assert.equal(sent.length, 1, "the error is not answered by sending again");
});

test("a value the flow refuses keeps the typed text and shows the error", () => {
  const { drafts, clock } = setup();
  drafts.type("ask", "length", "0");
  clock.pass();
  const error = "ask: exactly this many digits: must be at least 1";
  drafts.hear(said(error, true));
  assert.equal(drafts.text("ask", "length"), "0");
  assert.equal(drafts.error("ask", "length"), error);
});

test("fixing the text after an error sends it, and Python's yes clears the error", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "max_invalid");
  drafts.type("main", "max_invalid", "three");
  clock.pass();
  drafts.hear(said('Tries before giving up: "three" is not a whole number', true));
  drafts.type("main", "max_invalid", "5");
  clock.pass();
  assert.deepEqual(sent.at(-1), apply("main", "max_invalid", "5"));
  drafts.hear(said("main: tries before giving up"));
  assert.equal(drafts.error("main", "max_invalid"), null);
  drafts.see(viewOf({ main: { max_invalid: "5" } }));
  assert.equal(drafts.text("main", "max_invalid"), "5");
  assert.equal(drafts.pending("main", "max_invalid"), false);
});

test("a message heard again (same serial) answers nothing more", () => {
  const { drafts, clock } = setup();
  drafts.type("main", "max_invalid", "x");
  drafts.type("ask", "max_invalid", "y");
  clock.pass();
  const first = said('Tries before giving up: "x" is not a whole number', true);
  drafts.hear(first);
  assert.equal(drafts.error("main", "max_invalid"), first.text, "the older field is answered first");
  drafts.hear(first);
  assert.equal(drafts.error("ask", "max_invalid"), null);
  assert.equal(drafts.pending("ask", "max_invalid"), true);
  const second = said('Tries before giving up: "y" is not a whole number', true);
  drafts.hear(second);
  assert.equal(drafts.error("ask", "max_invalid"), second.text);
});

test("typing back to the flow's value sends nothing and shows nothing unsaved", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "max_invalid");
  drafts.type("main", "max_invalid", "35");
  drafts.type("main", "max_invalid", "3");
  clock.pass();
  assert.deepEqual(sent, []);
  assert.equal(drafts.text("main", "max_invalid"), "3");
  assert.equal(drafts.pending("main", "max_invalid"), false);
});

test("typing the flow's value written another way sends nothing and keeps what was typed", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("agent", "devices");
  drafts.type("agent", "devices", "1,02");
  clock.pass();
  assert.deepEqual(sent, []);
  assert.equal(drafts.text("agent", "devices"), "1,02", "the typed text does not jump while typing");
  assert.equal(drafts.pending("agent", "devices"), false);
  drafts.blur("agent", "devices");
  assert.equal(drafts.text("agent", "devices"), "1, 2");
  assert.deepEqual(sent, []);
});

test("typing back while an older text is on its way sends the newer one, even if a view agrees", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "max_invalid");
  drafts.type("main", "max_invalid", "5");
  clock.pass();
  drafts.type("main", "max_invalid", "3");
  // A view from an earlier edit (5 not applied yet) shows the flow's 3.
  drafts.see(viewOf({ ask: { var: "pin" } }));
  assert.equal(drafts.pending("main", "max_invalid"), true);
  clock.pass();
  assert.deepEqual(
    sent.map((request) => request.value),
    ["5", "3"],
    "3 is sent after 5, so the flow ends with 3 as typed",
  );
  drafts.see(viewOf({ main: { max_invalid: "5" } }));
  assert.equal(drafts.text("main", "max_invalid"), "3");
  drafts.see(viewOf({ main: { max_invalid: "3" } }));
  assert.equal(drafts.pending("main", "max_invalid"), false);
});

test("with two texts of one field on their way, an error for the second still shows", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("main", "max_invalid");
  drafts.type("main", "max_invalid", "5");
  clock.pass();
  drafts.type("main", "max_invalid", "5x");
  clock.pass();
  assert.deepEqual(sent.map((request) => request.value), ["5", "5x"]);
  drafts.see(viewOf({ main: { max_invalid: "5" } }));
  drafts.hear(said("main: tries before giving up"));
  assert.equal(drafts.pending("main", "max_invalid"), true, "5x is not answered yet");
  const error = 'Tries before giving up: "5x" is not a whole number';
  drafts.hear(said(error, true));
  assert.equal(drafts.error("main", "max_invalid"), error);
  assert.equal(drafts.text("main", "max_invalid"), "5x");
  drafts.blur("main", "max_invalid");
  assert.equal(drafts.text("main", "max_invalid"), "5x", "leaving the field keeps the text in error");
});

test("leaving a field sends its text at once", () => {
  const { drafts, sent, clock } = setup();
  drafts.focus("ask", "var");
  drafts.type("ask", "var", "pin");
  drafts.blur("ask", "var");
  assert.deepEqual(sent, [apply("ask", "var", "pin")]);
  assert.deepEqual(clock.waiting(), [], "the timer is stopped");
  clock.pass();
  assert.equal(sent.length, 1);
  // Python takes it: the field shows the flow again.
  drafts.see(viewOf({ ask: { var: "pin" } }));
  drafts.hear(said("ask: save digits as"));
  assert.equal(drafts.text("ask", "var"), "pin");
  assert.equal(drafts.pending("ask", "var"), false);
});

test("leaving a field with nothing typed sends nothing", () => {
  const { drafts, sent } = setup();
  drafts.focus("ask", "var");
  drafts.blur("ask", "var");
  assert.deepEqual(sent, []);
});

test("flushNode sends every unsent field of that node at once, and no other node's", () => {
  const { drafts, sent, clock } = setup();
  drafts.type("ask", "var", "pin");
  drafts.type("ask", "length", "6");
  drafts.type("main", "max_invalid", "2");
  drafts.flushNode("ask");
  assert.deepEqual(sent, [apply("ask", "var", "pin"), apply("ask", "length", "6")]);
  clock.pass();
  assert.deepEqual(sent.slice(2), [apply("main", "max_invalid", "2")]);
  drafts.flushNode("ask");
  assert.equal(sent.length, 3, "what was sent is not sent again");
});

test("forget drops a deleted node's drafts: nothing of it is sent, other nodes' are", () => {
  const { drafts, sent, clock } = setup();
  drafts.type("ask", "var", "pin");
  drafts.type("ask", "length", "6");
  drafts.type("main", "max_invalid", "2");
  drafts.forget("ask");
  assert.equal(drafts.text("ask", "var"), "account");
  assert.equal(drafts.pending("ask", "length"), false);
  clock.pass();
  assert.deepEqual(sent, [apply("main", "max_invalid", "2")]);
});

test("listeners hear each change and stop hearing once unsubscribed", () => {
  const { drafts, clock } = setup();
  let heard = 0;
  const stop = drafts.subscribe(() => {
    heard += 1;
  });
  const before = drafts.getVersion();
  drafts.type("ask", "var", "p");
  assert.equal(heard, 1);
  assert.ok(drafts.getVersion() > before);
  clock.pass();
  assert.equal(heard, 2, "sending is a change (the field shows as saving)");
  stop();
  drafts.type("ask", "var", "pi");
  assert.equal(heard, 2);
});

test("without forms a field's label is its name, and its text is compared as text", () => {
  const clock = fakeClock();
  const sent = [];
  const drafts = new Drafts({ send: (request) => sent.push(request), setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  drafts.see(viewOf());
  drafts.type("main", "max_invalid", "03");
  clock.pass();
  assert.deepEqual(sent, [apply("main", "max_invalid", "03")]);
  drafts.hear(said("main: max_invalid"));
  assert.equal(drafts.error("main", "max_invalid"), null);
});

// -- exits ----------------------------------------------------------------------------------

test("Add key offers the menu's keys that have no exit yet, in keypad order", () => {
  const node = { exits: [{ key: "1" }, { key: "2" }, { key: "#" }, { key: "invalid" }, { key: "gave_up" }] };
  assert.deepEqual(unusedKeys(node), ["3", "4", "5", "6", "7", "8", "9", "0", "*"]);
  assert.deepEqual(unusedKeys({ exits: [] }), MENU_KEYS);
  assert.deepEqual(unusedKeys({}), MENU_KEYS);
  assert.deepEqual(unusedKeys(null), MENU_KEYS);
  assert.deepEqual(unusedKeys({ exits: MENU_KEYS.map((key) => ({ key })) }), []);
});

const TWO = { nodes: [{ id: "main" }, { id: "sales" }] };

test("a target select offers nowhere, every node, then a new node of each kind", () => {
  assert.deepEqual(targetChoices(TWO, "sales", ["menu", "say"]), [
    { value: "", label: "nowhere", group: "" },
    { value: "main", label: "main", group: "" },
    { value: "sales", label: "sales", group: "" },
    { value: `${NEW_PREFIX}menu`, label: "new menu…", group: "new" },
    { value: `${NEW_PREFIX}say`, label: "new say…", group: "new" },
  ]);
});

test("a target that is not in the flow is still offered, marked as missing", () => {
  const choices = targetChoices(TWO, "billing", []);
  assert.deepEqual(choices.at(-1), { value: "billing", label: "billing (not in the flow)", group: "" });
  assert.equal(choices.length, 4);
  assert.equal(targetChoices(TWO, null, []).length, 3);
  assert.deepEqual(targetChoices(null, null, null), [{ value: "", label: "nowhere", group: "" }]);
});

test("a target select not yet opened holds only nowhere and its target, so selecting a card is quick", () => {
  assert.deepEqual(targetChoices(TWO, "sales", ["menu", "say"], { open: false }), [
    { value: "", label: "nowhere", group: "" },
    { value: "sales", label: "sales", group: "" },
  ]);
  assert.deepEqual(targetChoices(TWO, "billing", ["menu"], { open: false }).at(-1), {
    value: "billing",
    label: "billing (not in the flow)",
    group: "",
  });
  assert.deepEqual(targetChoices(TWO, null, ["menu"], { open: false }), [{ value: "", label: "nowhere", group: "" }]);
  assert.equal(targetChoices(TWO, "sales", ["menu", "say"], { open: true }).length, 5, "opened: everything");
});

test("choosing a target sends connect, nowhere sends disconnect, a new kind sends add", () => {
  assert.deepEqual(exitRequest("main", "1", "sales", null), { type: "connect", source: "main", key: "1", target: "sales" });
  assert.deepEqual(exitRequest("main", "1", "", "sales"), { type: "disconnect", source: "main", key: "1" });
  assert.deepEqual(exitRequest("main", "1", `${NEW_PREFIX}say`, "sales"), {
    type: "add",
    kind: "say",
    from: ["main", "1"],
  });
});

test("choosing the target an exit already has sends nothing", () => {
  assert.equal(exitRequest("main", "1", "sales", "sales"), null);
  assert.equal(exitRequest("main", "1", "", null), null);
  assert.equal(exitRequest("main", "1", "", undefined), null);
});

// -- a lookup's fields ----------------------------------------------------------------------

const LOOKUP_FORMS = {
  kinds: ["lookup"],
  fields: {
    lookup: [
      {
        name: "method",
        label: "Method",
        help: "",
        input: "choice",
        choices: ["GET", "POST", "PUT", "PATCH", "DELETE"].map((m) => [m, m]),
      },
      { name: "timeout", label: "Wait at most (seconds)", help: "", input: "seconds", choices: [] },
    ],
  },
  node_id: NODE_ID,
};

function lookupView(fields = {}) {
  // Python shows GET for a lookup with no method stored (editing/canvas.py).
  return { nodes: [{ id: "ask", kind: "lookup", fields: { method: "GET", timeout: "2.5", ...fields } }] };
}

test("a lookup's timeout is typed in seconds: the same value written another way is saved", () => {
  const clock = fakeClock();
  const sent = [];
  const drafts = new Drafts({ send: (request) => sent.push(request), setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  drafts.see(lookupView(), LOOKUP_FORMS);
  assert.equal(drafts.text("ask", "method"), "GET");
  drafts.focus("ask", "timeout");
  drafts.type("ask", "timeout", "2.50");
  clock.pass();
  assert.deepEqual(sent, [], "2.50 is the 2.5 the flow has");
  assert.equal(drafts.pending("ask", "timeout"), false);
  drafts.type("ask", "timeout", "3.0");
  clock.pass();
  assert.deepEqual(sent, [apply("ask", "timeout", "3.0")]);
  drafts.see(lookupView({ timeout: "3" }));
  assert.equal(drafts.text("ask", "timeout"), "3.0", "the cursor's text does not jump");
  assert.equal(drafts.pending("ask", "timeout"), false, "saved");
  drafts.blur("ask", "timeout");
  assert.equal(drafts.text("ask", "timeout"), "3");
  drafts.type("ask", "method", "POST");
  drafts.flush("ask", "method");
  assert.deepEqual(sent.at(-1), apply("ask", "method", "POST"));
});
