// The test phone's logic as pure functions: what a key does at the node the call waits at.
//
// Python's `view.call.expects` says what the flow wants: 1 (a menu: one key), "#" or "*" (a
// collect: digits ended by that key), N (a collect of exactly N digits), 0 or null (nothing).

/** The keypad, row by row. */
export const KEYPAD = [
  ["1", "2", "3"],
  ["4", "5", "6"],
  ["7", "8", "9"],
  ["*", "0", "#"],
];

const KEYS = new Set(KEYPAD.flat());

/** True for a phone key: 0-9, * or #. */
export function isPhoneKey(key) {
  return KEYS.has(String(key));
}

/**
 * What the phone takes at the node the call waits at: {mode, terminator, length}.
 *
 * `mode` is "menu" (each key goes at once), "digits" (keys gather until the terminator, or
 * until `length` digits) or "none" (no call, or nothing to type). `kind` is the waiting node's
 * kind, which tells a one-digit collect from a menu (both expect 1).
 */
export function phoneMode(call, kind) {
  const expects = call ? call.expects : null;
  if (!call || call.waiting_at == null || expects == null || expects === 0) {
    return { mode: "none", terminator: null, length: null };
  }
  if (expects === "#" || expects === "*") return { mode: "digits", terminator: expects, length: null };
  const count = Number(expects);
  if (!Number.isInteger(count) || count < 1) return { mode: "none", terminator: null, length: null };
  if (count === 1 && kind !== "collect") return { mode: "menu", terminator: null, length: null };
  return { mode: "digits", terminator: null, length: count };
}

/**
 * A key pressed on the phone: the digits shown afterwards and the request to send (or null).
 *
 * At a menu the key is sent at once; at a collect it joins the digits until it is the
 * terminator (sent with the digits) or the digits reach the fixed length.
 */
export function pressKey(digits, key, mode) {
  key = String(key);
  if (!isPhoneKey(key) || mode.mode === "none") return { digits, request: null };
  if (mode.mode === "menu") return { digits: "", request: { type: "press", key } };
  if (mode.terminator && key === mode.terminator) {
    return { digits: "", request: { type: "enter", digits: digits + key } };
  }
  const next = digits + key;
  if (mode.length && next.length >= mode.length) {
    return { digits: "", request: { type: "enter", digits: next } };
  }
  return { digits: next, request: null };
}

/** Enter on the phone: what is typed, with the collect's terminator when it has one. */
export function enterDigits(digits, mode) {
  if (mode.mode !== "digits") return { digits, request: null };
  if (mode.terminator) return { digits: "", request: { type: "enter", digits: digits + mode.terminator } };
  if (!digits) return { digits, request: null };
  return { digits: "", request: { type: "enter", digits } };
}

/** The digits with the last one taken back. */
export function backspace(digits) {
  return String(digits).slice(0, -1);
}

/** One line under the status saying what the phone wants now. */
export function phoneHint(mode, call) {
  if (mode.mode === "menu") return "Press a key.";
  if (mode.mode === "digits" && mode.terminator) {
    return `Type digits, then ${mode.terminator} (or Enter).`;
  }
  if (mode.mode === "digits") return `Type ${mode.length} digit${mode.length === 1 ? "" : "s"}.`;
  if (call && call.waiting_at == null && (call.transcript || []).length) return "Start again to call once more.";
  return "Dial to call the flow.";
}

/** True while a call is in progress (it waits somewhere for the caller). */
export function inCall(call) {
  return Boolean(call && call.waiting_at != null);
}

/** True once a call was dialled (in progress or ended). */
export function hasCall(call) {
  return Boolean(call && (call.waiting_at != null || (call.transcript || []).length > 0));
}

/** What a physical key does on the phone panel: a phone key, "enter", "backspace" or null. */
export function phoneShortcut(press) {
  if (press.inText || press.ctrlKey || press.metaKey || press.altKey) return null;
  if (isPhoneKey(press.key)) return press.key;
  if (press.key === "Enter") return "enter";
  if (press.key === "Backspace") return "backspace";
  return null;
}
