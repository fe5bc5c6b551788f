// Small helpers the canvas and its panels share: a synced trait as React state, and whether
// a key press belongs to a text field.
import { useEffect, useState } from "react";

/** A synced trait as React state. */
export function useTrait(model, name, fallback) {
  const [value, setValue] = useState(() => model.get(name) ?? fallback);
  useEffect(() => {
    const update = () => setValue(model.get(name) ?? fallback);
    model.on(`change:${name}`, update);
    update();
    return () => model.off(`change:${name}`, update);
  }, [model, name, fallback]);
  return value;
}

/** True when `element` takes typed text (keys there edit the text, not the flow). */
export function isTextField(element) {
  if (!element || !element.tagName) return false;
  const tag = element.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || element.isContentEditable;
}
