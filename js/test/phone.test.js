// What the test phone does with a key, checked on the pure functions that decide it.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  KEYPAD,
  backspace,
  enterDigits,
  hasCall,
  inCall,
  isPhoneKey,
  phoneHint,
  phoneMode,
  phoneShortcut,
  pressKey,
} from "../src/phone.js";

/** A call waiting at `node` for `expects`, as Python's `view.call` says it. */
const waitingFor = (expects, node = "here") => ({
  status: "Waiting.",
  transcript: [["ivr", "Hello."]],
  waiting_at: node,
  expects,
});
const ended = { status: "Ended.", transcript: [["ivr", "Bye."]], waiting_at: null, expects: null };
const NONE = { mode: "none", terminator: null, length: null };

/** Press `keys` one after another from no digits: the digits left and every request sent. */
function pressAll(keys, mode) {
  let digits = "";
  const sent = [];
  for (const key of keys) {
    const result = pressKey(digits, key, mode);
    digits = result.digits;
    if (result.request) sent.push(result.request);
  }
  return { digits, sent };
}

// -- phoneMode ------------------------------------------------------------------------------

test("a menu (expects 1) takes one key at a time", () => {
  assert.deepEqual(phoneMode(waitingFor(1), "menu"), { mode: "menu", terminator: null, length: null });
});

test("a one-digit collect (also expects 1) gathers one digit instead of acting as a menu", () => {
  assert.deepEqual(phoneMode(waitingFor(1), "collect"), { mode: "digits", terminator: null, length: 1 });
});

test("a collect ended by # or * gathers digits until that key", () => {
  assert.deepEqual(phoneMode(waitingFor("#"), "collect"), { mode: "digits", terminator: "#", length: null });
  assert.deepEqual(phoneMode(waitingFor("*"), "collect"), { mode: "digits", terminator: "*", length: null });
});

test("a collect of exactly 4 digits gathers 4 and has no terminator", () => {
  assert.deepEqual(phoneMode(waitingFor(4), "collect"), { mode: "digits", terminator: null, length: 4 });
});

test("expects 0, null, nonsense, or no call at all: the phone takes nothing", () => {
  assert.deepEqual(phoneMode(waitingFor(0), "say"), NONE);
  assert.deepEqual(phoneMode(waitingFor(null), "collect"), NONE);
  assert.deepEqual(phoneMode(waitingFor(-2), "collect"), NONE);
  assert.deepEqual(phoneMode(waitingFor("x"), "collect"), NONE);
  assert.deepEqual(phoneMode(null, undefined), NONE);
  assert.deepEqual(phoneMode(undefined, undefined), NONE);
});

test("an ended call takes nothing even if it still says what it expected", () => {
  assert.deepEqual(phoneMode({ ...ended, expects: 1 }, "menu"), NONE);
});

// -- pressKey -------------------------------------------------------------------------------

test("at a # collect the digits 1,2,3 then # send {type:'enter', digits:'123#'} once", () => {
  const mode = phoneMode(waitingFor("#"), "collect");
  const steps = [];
  let digits = "";
  for (const key of ["1", "2", "3"]) {
    const result = pressKey(digits, key, mode);
    assert.equal(result.request, null, `key ${key} is not sent yet`);
    digits = result.digits;
    steps.push(digits);
  }
  assert.deepEqual(steps, ["1", "12", "123"]);
  assert.deepEqual(pressKey(digits, "#", mode), { digits: "", request: { type: "enter", digits: "123#" } });
});

test("at a * collect, # is a digit like the others and * ends them", () => {
  const mode = phoneMode(waitingFor("*"), "collect");
  assert.deepEqual(pressAll(["4", "#", "2"], mode), { digits: "4#2", sent: [] });
  assert.deepEqual(pressAll(["4", "#", "2", "*"], mode), {
    digits: "",
    sent: [{ type: "enter", digits: "4#2*" }],
  });
});

test("the terminator alone sends just the terminator", () => {
  const mode = phoneMode(waitingFor("#"), "collect");
  assert.deepEqual(pressKey("", "#", mode), { digits: "", request: { type: "enter", digits: "#" } });
});

test("at a 4-digit collect the 4th digit sends all four, the first three send nothing", () => {
  const mode = phoneMode(waitingFor(4), "collect");
  assert.deepEqual(pressAll(["1", "2", "3"], mode), { digits: "123", sent: [] });
  assert.deepEqual(pressAll(["1", "2", "3", "4"], mode), {
    digits: "",
    sent: [{ type: "enter", digits: "1234" }],
  });
  // The next digits start a new entry.
  assert.deepEqual(pressAll(["1", "2", "3", "4", "5"], mode), {
    digits: "5",
    sent: [{ type: "enter", digits: "1234" }],
  });
});

test("at a one-digit collect a single key is sent as digits, not as a menu press", () => {
  const mode = phoneMode(waitingFor(1), "collect");
  assert.deepEqual(pressKey("", "7", mode), { digits: "", request: { type: "enter", digits: "7" } });
});

test("at a menu each key is sent at once as a press, and nothing is kept", () => {
  const mode = phoneMode(waitingFor(1), "menu");
  assert.deepEqual(pressKey("", "2", mode), { digits: "", request: { type: "press", key: "2" } });
  assert.deepEqual(pressKey("", "#", mode), { digits: "", request: { type: "press", key: "#" } });
  assert.deepEqual(pressKey("", 0, mode), { digits: "", request: { type: "press", key: "0" } });
});

test("with no call waiting a key does nothing and the digits stay", () => {
  assert.deepEqual(pressKey("12", "3", NONE), { digits: "12", request: null });
});

test("a key that is not on the keypad is ignored at a menu and at a collect", () => {
  assert.deepEqual(pressKey("", "a", phoneMode(waitingFor(1), "menu")), { digits: "", request: null });
  assert.deepEqual(pressKey("12", "Enter", phoneMode(waitingFor("#"), "collect")), { digits: "12", request: null });
});

// -- enterDigits ----------------------------------------------------------------------------

test("Enter at a # collect sends the digits with the # added", () => {
  const mode = phoneMode(waitingFor("#"), "collect");
  assert.deepEqual(enterDigits("123", mode), { digits: "", request: { type: "enter", digits: "123#" } });
});

test("Enter at a # collect with nothing typed still sends the # (an empty entry)", () => {
  const mode = phoneMode(waitingFor("#"), "collect");
  assert.deepEqual(enterDigits("", mode), { digits: "", request: { type: "enter", digits: "#" } });
});

test("Enter at a fixed-length collect sends what is typed, without a terminator", () => {
  const mode = phoneMode(waitingFor(4), "collect");
  assert.deepEqual(enterDigits("12", mode), { digits: "", request: { type: "enter", digits: "12" } });
});

test("Enter at a fixed-length collect with nothing typed sends nothing", () => {
  const mode = phoneMode(waitingFor(4), "collect");
  assert.deepEqual(enterDigits("", mode), { digits: "", request: null });
});

test("Enter at a menu or with no call sends nothing and keeps the digits", () => {
  assert.deepEqual(enterDigits("5", phoneMode(waitingFor(1), "menu")), { digits: "5", request: null });
  assert.deepEqual(enterDigits("5", NONE), { digits: "5", request: null });
});

// -- backspace, keys ------------------------------------------------------------------------

test("backspace takes back the last digit, and nothing from nothing", () => {
  assert.equal(backspace("123"), "12");
  assert.equal(backspace("1"), "");
  assert.equal(backspace(""), "");
});

test("the keypad has the twelve phone keys, 1 2 3 on top and * 0 # at the bottom", () => {
  assert.deepEqual(KEYPAD[0], ["1", "2", "3"]);
  assert.deepEqual(KEYPAD[3], ["*", "0", "#"]);
  assert.equal(KEYPAD.flat().length, 12);
  for (const key of KEYPAD.flat()) assert.ok(isPhoneKey(key), key);
  for (const key of ["a", "", "10", "+", "Enter"]) assert.ok(!isPhoneKey(key), key);
  assert.ok(isPhoneKey(5));
});

// -- phoneHint ------------------------------------------------------------------------------

test("the hint says what the phone wants now", () => {
  assert.equal(phoneHint(phoneMode(waitingFor(1), "menu"), waitingFor(1)), "Press a key.");
  assert.equal(
    phoneHint(phoneMode(waitingFor("#"), "collect"), waitingFor("#")),
    "Type digits, then # (or Enter).",
  );
  assert.equal(
    phoneHint(phoneMode(waitingFor("*"), "collect"), waitingFor("*")),
    "Type digits, then * (or Enter).",
  );
  assert.equal(phoneHint(phoneMode(waitingFor(4), "collect"), waitingFor(4)), "Type 4 digits.");
});

test("the hint for a one-digit collect says one digit, not '1 digits'", () => {
  assert.equal(phoneHint(phoneMode(waitingFor(1), "collect"), waitingFor(1)), "Type 1 digit.");
});

test("before any call the hint says to dial; after one ended, to start again", () => {
  assert.equal(phoneHint(NONE, null), "Dial to call the flow.");
  assert.equal(phoneHint(NONE, { status: "No call.", transcript: [], waiting_at: null, expects: null }), "Dial to call the flow.");
  assert.equal(phoneHint(NONE, ended), "Start again to call once more.");
});

// -- inCall, hasCall ------------------------------------------------------------------------

test("a call waiting somewhere is in progress and was dialled", () => {
  assert.equal(inCall(waitingFor("#")), true);
  assert.equal(hasCall(waitingFor("#")), true);
});

test("an ended call is not in progress but was dialled (Start again is offered)", () => {
  assert.equal(inCall(ended), false);
  assert.equal(hasCall(ended), true);
});

test("no call: neither in progress nor dialled", () => {
  const none = { status: "No call.", transcript: [], waiting_at: null, expects: null };
  for (const call of [none, null, undefined, {}]) {
    assert.equal(inCall(call), false);
    assert.equal(hasCall(call), false);
  }
});

// -- phoneShortcut --------------------------------------------------------------------------

const press = (key, extra = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, inText: false, ...extra });

test("typing 0-9, * and # on the keyboard presses that phone key", () => {
  for (const key of KEYPAD.flat()) assert.equal(phoneShortcut(press(key)), key);
});

test("Enter sends the digits and Backspace takes one back", () => {
  assert.equal(phoneShortcut(press("Enter")), "enter");
  assert.equal(phoneShortcut(press("Backspace")), "backspace");
});

test("other keys do nothing on the phone", () => {
  for (const key of ["a", "Escape", "Tab", "ArrowUp", " ", "Delete"]) assert.equal(phoneShortcut(press(key)), null, key);
});

test("keys typed in a text field are the field's, not the phone's", () => {
  for (const key of ["1", "#", "Enter", "Backspace"]) {
    assert.equal(phoneShortcut(press(key, { inText: true })), null, key);
  }
});

test("with Ctrl, Cmd or Alt held a key is a browser shortcut, not a phone key", () => {
  assert.equal(phoneShortcut(press("1", { ctrlKey: true })), null);
  assert.equal(phoneShortcut(press("1", { metaKey: true })), null);
  assert.equal(phoneShortcut(press("Enter", { altKey: true })), null);
  assert.equal(phoneShortcut(press("Backspace", { ctrlKey: true })), null);
});

test("Shift is allowed: it is how * and # are typed", () => {
  assert.equal(phoneShortcut(press("#", { shiftKey: true })), "#");
  assert.equal(phoneShortcut(press("*", { shiftKey: true })), "*");
});
