// The inspector's logic without React: checking a typed id, the exits' choices, and the drafts
// that keep typed text until Python has taken it.
//
// A field applies as it is typed: its text is sent ({type: "apply", node, field, value}) a
// moment after the last keystroke, and Python answers with a message and a new view. Until
// Python's view shows what was typed, the field keeps showing the typed text (its draft): a
// view that arrives meanwhile never overwrites it, and an error leaves it as typed.
import { MENU_KEYS } from "./view.js";

/** How long after the last keystroke a field's text is sent, in ms. */
export const APPLY_DELAY = 400;

/** What the id field says when the typed id is fine. */
export const ID_RULE = "ids are letters, digits, _ - .";

/**
 * What is wrong with `text` as the new id of node `current`, or null when it can be sent.
 *
 * `pattern` is the regular expression source an id must fully match (`forms.node_id`); `ids`
 * are the ids in the flow.
 */
export function idProblem(text, current, ids, pattern) {
  const id = String(text);
  if (!id.trim()) return "give the node an id";
  if (id === current) return null;
  if (pattern && !new RegExp(`^(?:${pattern})$`).test(id)) {
    return /^[-.]/.test(id) ? `${ID_RULE}, not starting with ${id[0]}` : ID_RULE;
  }
  if ((ids || []).includes(id)) return `a node ‘${id}’ already exists`;
  return null;
}

function lines(text) {
  return String(text)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .join("\n");
}

// A whole number as Python's int() reads it ("007" is 7), without rounding long ones.
function whole(text) {
  return /^[+-]?[0-9]+$/.test(text) ? BigInt(text).toString() : text;
}

// A number of seconds as Python's float() reads it, written as Python shows it back ("2.50" is
// 2.5, "2.0" is 2): what is not such a number stays as typed, for Python to refuse.
function seconds(text) {
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?$/i.test(text)) return text;
  return String(Number(text));
}

function canonical(input, text) {
  const trimmed = String(text ?? "").trim();
  if (input === "lines") return lines(text ?? "");
  if (input === "numbers") {
    return trimmed
      .split(",")
      .map((part) => whole(part.trim()))
      .filter(Boolean)
      .join(",");
  }
  if (input === "number") return whole(trimmed);
  if (input === "seconds") return seconds(trimmed);
  if (input === "json" && trimmed) {
    try {
      return JSON.stringify(JSON.parse(trimmed));
    } catch {
      return trimmed;
    }
  }
  return trimmed;
}

/** True when two texts of a field of this input mean the same value (as Python reads them). */
export function sameText(input, a, b) {
  return canonical(input, a) === canonical(input, b);
}

/** A field of a kind's form, by name, from `forms` (null when the kind has no such field). */
export function formField(forms, kind, name) {
  const fields = (forms && forms.fields && forms.fields[kind]) || [];
  return fields.find((field) => field.name === name) || null;
}

/**
 * Which of the waiting applies a message answers: {node, field, error} or null.
 *
 * Python says `<node>: <label in lower case>` when a field was applied, `<Label>: ...` when
 * the text could not be read, and `<node>: <label>: ...` when the flow refused the value.
 * `waiting` is [{node, field, label}], oldest first.
 */
export function answerTo(message, waiting) {
  if (!message || typeof message.text !== "string") return null;
  const text = message.text;
  for (const item of waiting) {
    const done = `${item.node}: ${String(item.label).toLowerCase()}`;
    if (!message.error && text === done) return { node: item.node, field: item.field, error: null };
    if (message.error && (text.startsWith(`${item.label}: `) || text.startsWith(`${done}: `))) {
      return { node: item.node, field: item.field, error: text };
    }
  }
  if (message.error && text.startsWith("apply: ") && waiting.length) {
    return { node: waiting[0].node, field: waiting[0].field, error: text };
  }
  return null;
}

const keyOf = (node, field) => JSON.stringify([node, field]);

/**
 * Typed text per field, kept until Python's view agrees with it.
 *
 * `send` sends a request; `setTimer` and `clearTimer` are `setTimeout` and `clearTimeout`
 * (a test passes its own). Components read with `text` and `error` and re-render when
 * `subscribe`d listeners hear of a change (`version` grows).
 */
export class Drafts {
  constructor({
    send,
    delay = APPLY_DELAY,
    // Called as methods (`this.setTimer`): a browser's own setTimeout, called on anything but the
    // window, throws "Illegal invocation", and nothing typed would ever be applied.
    setTimer = (callback, ms) => setTimeout(callback, ms),
    clearTimer = (timer) => clearTimeout(timer),
  }) {
    this.send = send;
    this.delay = delay;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.records = new Map();
    this.timers = new Map();
    this.listeners = new Set();
    this.values = new Map();
    this.forms = null;
    this.focused = null;
    this.serial = null;
    this.sends = 0;
    this.version = 0;
    this.subscribe = this.subscribe.bind(this);
    this.getVersion = () => this.version;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    this.version += 1;
    for (const listener of [...this.listeners]) listener();
  }

  viewText(node, field) {
    const fields = this.values.get(node);
    return fields ? (fields.fields[field] ?? "") : "";
  }

  input(node, field) {
    const fields = this.values.get(node);
    const found = fields && formField(this.forms, fields.kind, field);
    return found ? found.input : "text";
  }

  /** What a field shows: its draft, else Python's text. */
  text(node, field) {
    const record = this.records.get(keyOf(node, field));
    return record ? record.text : this.viewText(node, field);
  }

  /** The error Python gave for a field's text, or null. */
  error(node, field) {
    const record = this.records.get(keyOf(node, field));
    return record ? record.error : null;
  }

  /** True while a field has text Python has not confirmed. */
  pending(node, field) {
    const record = this.records.get(keyOf(node, field));
    if (!record) return false;
    if (record.waiting) return true;
    if (record.sent !== null) return record.sent !== record.text;
    // Typed, never sent: unsaved unless it is what the flow has already.
    return !sameText(this.input(node, field), record.text, this.viewText(node, field));
  }

  /** The user typed `text` into a field: it is sent after the delay, unless typed again. */
  type(node, field, text) {
    const key = keyOf(node, field);
    const record = this.records.get(key) || { node, field, text: "", sent: null, waiting: 0, error: null, order: 0 };
    record.text = String(text);
    this.records.set(key, record);
    this.clearTimer(this.timers.get(key));
    this.timers.set(key, this.setTimer(() => this.flush(node, field), this.delay));
    this.changed();
  }

  /** Send a field's text now, if it has any Python has not been sent. */
  flush(node, field) {
    const key = keyOf(node, field);
    this.clearTimer(this.timers.get(key));
    this.timers.delete(key);
    const record = this.records.get(key);
    if (!record || record.text === record.sent) return;
    if (record.sent === null && sameText(this.input(node, field), record.text, this.viewText(node, field))) {
      // Typed back to what the flow has: nothing to send.
      if (this.focused !== key) this.records.delete(key);
      this.changed();
      return;
    }
    record.sent = record.text;
    record.waiting += 1; // requests on their way: Python answers each
    this.sends += 1;
    record.order = this.sends;
    this.send({ type: "apply", node, field, value: record.text });
    this.changed();
  }

  /** Send every field of a node that has unsent text (before leaving it). */
  flushNode(node) {
    for (const record of [...this.records.values()]) {
      if (record.node === node) this.flush(node, record.field);
    }
  }

  /** Forget a node's drafts (it is being deleted). */
  forget(node) {
    for (const [key, record] of [...this.records]) {
      if (record.node !== node) continue;
      this.clearTimer(this.timers.get(key));
      this.timers.delete(key);
      this.records.delete(key);
    }
    this.changed();
  }

  focus(node, field) {
    this.focused = keyOf(node, field);
  }

  /** The field lost focus: send it, and once Python has it, show Python's text again. */
  blur(node, field) {
    const key = keyOf(node, field);
    if (this.focused === key) this.focused = null;
    this.flush(node, field);
    this.settle(key);
  }

  settle(key) {
    const record = this.records.get(key);
    if (!record || this.focused === key) return;
    if (!record.waiting && !record.error && record.text === record.sent) {
      this.records.delete(key);
      this.changed();
    }
  }

  /** A new view from Python: drafts it agrees with are done, the others stay. */
  see(view, forms) {
    if (forms) this.forms = forms;
    this.values = new Map(((view && view.nodes) || []).map((n) => [n.id, { kind: n.kind, fields: n.fields || {} }]));
    let dropped = false;
    for (const [key, record] of [...this.records]) {
      if (!this.values.has(record.node)) continue;
      const shown = this.viewText(record.node, record.field);
      // A view agreeing with the text ends the draft, unless an older text is still on its way
      // (it would land after this view, and the typed text must follow it).
      if (record.text === shown && (!record.waiting || record.sent === record.text)) {
        this.clearTimer(this.timers.get(key));
        this.timers.delete(key);
        this.records.delete(key);
        dropped = true;
      } else if (record.waiting && record.sent !== null && sameText(this.input(record.node, record.field), record.sent, shown)) {
        // Python took the text (written its own way, like a prompt without its blank lines).
        record.waiting = 0;
        record.error = null;
        this.settle(key);
      }
    }
    if (dropped) this.changed();
  }

  /** A message from Python: it may answer a field that was sent. */
  hear(message) {
    if (!message || message.serial === this.serial) return;
    this.serial = message.serial;
    const waiting = [...this.records.values()]
      .filter((record) => record.waiting)
      .sort((a, b) => a.order - b.order)
      .map((record) => {
        const kind = (this.values.get(record.node) || {}).kind;
        const found = formField(this.forms, kind, record.field);
        return { node: record.node, field: record.field, label: found ? found.label : record.field };
      });
    const answer = answerTo(message, waiting);
    if (!answer) return;
    const key = keyOf(answer.node, answer.field);
    const record = this.records.get(key);
    record.waiting -= 1;
    record.error = answer.error;
    this.settle(key);
    this.changed();
  }
}

/** Keys a menu has no exit for yet, in keypad order (what "Add key" offers). */
export function unusedKeys(node) {
  const taken = new Set(((node && node.exits) || []).map((exit) => exit.key));
  return MENU_KEYS.filter((key) => !taken.has(key));
}

/** The value of a target select's "new node" choice for a kind, and back. */
export const NEW_PREFIX = "new:";

/**
 * The choices of an exit's target select: [{value, label, group}] with "" for nowhere, every
 * node's id, the current target when it is not in the flow, and a new node of each kind.
 *
 * A select that is not `open` (not yet focused or pressed) holds only nowhere and the current
 * target: a menu of a 200-node flow shows a dozen exits, and building every one's 200 choices
 * each time a card is selected is what a click would wait for.
 */
export function targetChoices(view, target, kinds, { open = true } = {}) {
  const nodes = (view && view.nodes) || [];
  if (!open) {
    const known = nodes.some((node) => node.id === target);
    const current = target ? [{ value: target, label: known ? target : `${target} (not in the flow)`, group: "" }] : [];
    return [{ value: "", label: "nowhere", group: "" }, ...current];
  }
  const ids = nodes.map((node) => node.id);
  const choices = [{ value: "", label: "nowhere", group: "" }];
  for (const id of ids) choices.push({ value: id, label: id, group: "" });
  if (target && !ids.includes(target)) choices.push({ value: target, label: `${target} (not in the flow)`, group: "" });
  for (const kind of kinds || []) choices.push({ value: NEW_PREFIX + kind, label: `new ${kind}…`, group: "new" });
  return choices;
}

/** The request a target select's choice sends for exit `key` of `source`, or null. */
export function exitRequest(source, key, value, current) {
  if (value === (current ?? "")) return null;
  if (value.startsWith(NEW_PREFIX)) return { type: "add", kind: value.slice(NEW_PREFIX.length), from: [source, key] };
  if (!value) return { type: "disconnect", source, key };
  return { type: "connect", source, key, target: value };
}
