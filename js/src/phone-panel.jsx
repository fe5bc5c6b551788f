// The test phone: dial the flow, press keys or type digits, read the transcript.
//
// What a key does is decided in phone.js; Python runs the call and answers with `view.call`.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { isTextField } from "./hooks.js";
import {
  KEYPAD,
  backspace,
  enterDigits,
  hasCall,
  inCall,
  phoneHint,
  phoneMode,
  phoneShortcut,
  pressKey,
} from "./phone.js";
import { keyClass } from "./view.js";

const NO_CALL = { status: "No call.", transcript: [], waiting_at: null, expects: null };

export function Phone({ view, send, onShow }) {
  const call = view.call || NO_CALL;
  const transcript = call.transcript || [];
  const waiting = (view.nodes || []).find((n) => n.id === call.waiting_at);
  const mode = phoneMode(call, waiting && waiting.kind);
  // Typed digits belong to one wait: when the call moves on, they are gone.
  const wait = `${call.waiting_at}|${transcript.length}|${call.status}`;
  const [typed, setTyped] = useState({ wait, digits: "" });
  const digits = typed.wait === wait ? typed.digits : "";
  const lines = useRef(null);
  const root = useRef(null);

  useLayoutEffect(() => {
    if (lines.current) lines.current.scrollTop = lines.current.scrollHeight;
  }, [transcript.length]);
  // A transcript that grew while the Phone tab was hidden had no height to scroll: when it is
  // shown (its size changes), its last line comes into view.
  useEffect(() => {
    const element = lines.current;
    if (!element || typeof ResizeObserver === "undefined") return undefined;
    const observer = new ResizeObserver(() => {
      element.scrollTop = element.scrollHeight;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // The phone keeps focus (not its buttons, which turn disabled as the call goes on), so the
  // keyboard's digits keep working after a click.
  const keepFocus = () => root.current && root.current.focus({ preventScroll: true });
  const onPointerDown = (event) => {
    if (event.target.closest && event.target.closest("button")) {
      event.preventDefault();
      keepFocus();
    }
  };
  const request = (content) => {
    send(content);
    keepFocus();
  };

  const take = (result) => {
    setTyped({ wait, digits: result.digits });
    if (result.request) send(result.request);
  };
  const press = (key) => take(pressKey(digits, key, mode));
  const enter = () => take(enterDigits(digits, mode));
  const erase = () => setTyped({ wait, digits: backspace(digits) });

  const onKeyDown = (event) => {
    const action = phoneShortcut({
      key: event.key,
      ctrlKey: event.ctrlKey,
      metaKey: event.metaKey,
      altKey: event.altKey,
      inText: isTextField(event.target),
    });
    if (!action) return;
    // Enter on a button of its own (Dial, Hang up...) is that button's.
    const button = event.target.closest && event.target.closest("button");
    if (action === "enter" && button && !button.classList.contains("jd-keypad-key")) return;
    event.preventDefault();
    event.stopPropagation();
    if (action === "enter") enter();
    else if (action === "backspace") erase();
    else press(action);
  };

  const live = inCall(call);
  const digitsMode = mode.mode === "digits";
  // A flow with {{parameters}} is dialled in one of its environments.
  const environments = view.environments || [];
  const [chosenEnv, setEnv] = useState("");
  const env = environments.includes(chosenEnv) ? chosenEnv : environments[0] || "";
  const dial = () => request(env ? { type: "dial", env } : { type: "dial" });
  return (
    <div
      className="jd-phone"
      ref={root}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      aria-label="Test phone: type digits, * and # here"
    >
      <div className="jd-phone-buttons">
        <button type="button" className="jd-dial" disabled={live} onClick={dial}>
          Dial
        </button>
        <button type="button" className="jd-hangup" disabled={!live} onClick={() => request({ type: "hangup" })}>
          Hang up
        </button>
        <button
          type="button"
          className="jd-restart"
          disabled={!hasCall(call)}
          title="Hang up and call the flow again from the start"
          onClick={dial}
        >
          Start again
        </button>
      </div>
      {environments.length ? (
        <label className="jd-env">
          Environment
          <select value={env} onChange={(event) => setEnv(event.target.value)} aria-label="Environment to dial in">
            {environments.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <div className="jd-call-line">
        <span className={`jd-call-status${live ? " jd-live" : ""}`} role="status">
          {call.status}
        </span>
        {call.waiting_at ? (
          <button type="button" className="jd-link jd-show-call" onClick={() => onShow(call.waiting_at)}>
            Show on canvas
          </button>
        ) : null}
      </div>
      <div className="jd-phone-hint">{phoneHint(mode, call)}</div>
      <div className={`jd-entry-line${digitsMode ? "" : " jd-idle"}`}>
        <output className="jd-digits" aria-label="Digits typed">
          {digits || (digitsMode ? "…" : "")}
        </output>
        <button
          type="button"
          className="jd-backspace"
          aria-label="Take back the last digit"
          title="Take back the last digit (Backspace)"
          disabled={!digits}
          onClick={erase}
        >
          ⌫
        </button>
        <button
          type="button"
          className="jd-enter"
          disabled={!digitsMode || (!digits && !mode.terminator)}
          title={mode.terminator ? `Send the digits and ${mode.terminator} (Enter)` : "Send the digits (Enter)"}
          onClick={enter}
        >
          Enter
        </button>
      </div>
      <div className="jd-keypad" role="group" aria-label="Keypad">
        {KEYPAD.flat().map((key) => (
          <button
            type="button"
            key={key}
            className={`jd-keypad-key jd-key-${keyClass(key)}`}
            aria-disabled={mode.mode === "none"}
            onClick={() => press(key)}
          >
            {key}
          </button>
        ))}
      </div>
      <div className="jd-transcript" ref={lines} aria-label="Transcript" aria-live="polite">
        {transcript.length ? (
          transcript.map(([who, text], index) => (
            <div key={index} className={`jd-said jd-line-${who === "caller" ? "caller" : "ivr"}`}>
              <span className="jd-who">{who === "caller" ? "caller" : "IVR"}</span>
              <span className="jd-said-text">{text}</span>
            </div>
          ))
        ) : (
          <div className="jd-said-none">The transcript of a call shows here.</div>
        )}
      </div>
    </div>
  );
}
