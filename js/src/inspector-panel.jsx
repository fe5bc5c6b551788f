// The inspector: the selected node's id, kind, fields and exits, each edit a request to Python.
//
// Fields apply as they are typed (see Drafts in inspector.js: typed text is never lost to a
// view that arrives meanwhile); with nothing selected, a palette adds a node of each kind.
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import {
  ID_RULE,
  exitRequest,
  idProblem,
  targetChoices,
  unusedKeys,
} from "./inspector.js";
import { keyClass, kindColour } from "./view.js";

/** The palette: one button per kind, adding a node beside `near` (or somewhere free). */
export function Palette({ kinds, near, send, title }) {
  return (
    <div className="jd-palette">
      <div className="jd-section-title">{title}</div>
      <div className="jd-palette-buttons">
        {kinds.map((kind) => (
          <button
            type="button"
            key={kind}
            className={`jd-palette-kind jd-palette-${kind}`}
            style={{ "--jd-accent": kindColour(kind) }}
            title={near ? `Add a ${kind} beside ${near}` : `Add a ${kind}`}
            onClick={() => send(near ? { type: "add", kind, near } : { type: "add", kind })}
          >
            <span className="jd-dot" />
            {kind}
          </button>
        ))}
      </div>
    </div>
  );
}

// The on-screen keyboard a one-line field asks for: digits for a whole number, a decimal point
// too for seconds (a lookup's timeout).
const INPUT_MODES = { number: "numeric", seconds: "decimal" };

function rowsFor(text, least = 2, most = 10) {
  return Math.min(most, Math.max(least, String(text).split("\n").length + 1));
}

function Field({ node, field, drafts, inputId }) {
  const text = drafts.text(node.id, field.name);
  const error = drafts.error(node.id, field.name);
  const pending = drafts.pending(node.id, field.name);
  const on = {
    id: inputId,
    value: text,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": `${inputId}-help`,
    onFocus: () => drafts.focus(node.id, field.name),
    onBlur: () => drafts.blur(node.id, field.name),
    onChange: (event) => drafts.type(node.id, field.name, event.target.value),
  };
  // Enter in a text box starts a new line. JupyterLab, seeing an Enter inside a notebook cell,
  // cancels the line break (its guard for Shift+Enter), so the Enter stays with the field.
  const newLine = (event) => {
    if (event.key === "Enter") event.stopPropagation();
  };
  let input;
  if (field.input === "lines") {
    input = <textarea rows={rowsFor(text)} spellCheck {...on} onKeyDown={newLine} />;
  } else if (field.input === "json") {
    input = (
      <textarea className="jd-mono" rows={rowsFor(text, 3, 12)} spellCheck={false} {...on} onKeyDown={newLine} />
    );
  } else if (field.input === "choice") {
    const choices = field.choices || [];
    const known = choices.some(([value]) => value === text);
    input = (
      <select
        {...on}
        onChange={(event) => {
          drafts.type(node.id, field.name, event.target.value);
          drafts.flush(node.id, field.name);
        }}
      >
        {known ? null : <option value={text}>{text}</option>}
        {choices.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    );
  } else {
    input = (
      <input
        type="text"
        inputMode={INPUT_MODES[field.input]}
        spellCheck={false}
        {...on}
        onKeyDown={(event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            drafts.flush(node.id, field.name);
          }
        }}
      />
    );
  }
  return (
    <div className={`jd-field jd-field-${field.name}${error ? " jd-has-field-error" : ""}`}>
      <label htmlFor={inputId}>
        {field.label}
        {pending && !error ? <span className="jd-saving" title="Not saved yet"> •</span> : null}
      </label>
      {input}
      <div className="jd-help" id={`${inputId}-help`}>
        {field.help}
      </div>
      {error ? (
        <div className="jd-field-error" role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

function IdField({ node, ids, pattern, onRename, inputId }) {
  const [text, setText] = useState(node.id);
  const [sent, setSent] = useState(null);
  const problem = idProblem(text, node.id, ids, pattern);
  const commit = () => {
    if (problem || text === node.id || text === sent) return;
    setSent(text);
    onRename(text);
  };
  return (
    <div className="jd-node-id">
      <input
        id={inputId}
        className="jd-node-id-input"
        aria-label="Node id"
        aria-invalid={problem ? true : undefined}
        aria-describedby={`${inputId}-hint`}
        value={text}
        spellCheck={false}
        onChange={(event) => setText(event.target.value)}
        onBlur={commit}
        onKeyDown={(event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            commit();
          } else if (event.key === "Escape") {
            setText(node.id);
          }
        }}
      />
      <div id={`${inputId}-hint`} className={`jd-id-hint${problem ? " jd-bad" : ""}`}>
        {problem || ID_RULE}
      </div>
    </div>
  );
}

function TargetSelect({ view, source, exitKey, target, kinds, send, label }) {
  // Every choice is built when the select is first pressed or focused (before it opens).
  const [open, setOpen] = useState(false);
  const choices = targetChoices(view, target, kinds, { open });
  const plain = choices.filter((choice) => !choice.group);
  const fresh = choices.filter((choice) => choice.group === "new");
  const opening = () => setOpen(true);
  return (
    <select
      className={`jd-exit-target jd-exit-${keyClass(exitKey)}`}
      aria-label={label}
      value={target ?? ""}
      onPointerDown={opening}
      onFocus={opening}
      onChange={(event) => {
        const request = exitRequest(source, exitKey, event.target.value, target);
        if (request) send(request);
      }}
    >
      {plain.map((choice) => (
        <option key={choice.value} value={choice.value}>
          {choice.label}
        </option>
      ))}
      {fresh.length ? (
        <optgroup label="a new node">
          {fresh.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </optgroup>
      ) : null}
    </select>
  );
}

function Exits({ view, node, kinds, send }) {
  const [adding, setAdding] = useState("");
  const exits = node.exits || [];
  const free = node.kind === "menu" ? unusedKeys(node) : [];
  const addingRow = adding && !exits.some((exit) => exit.key === adding);
  if (!exits.length && !free.length) return null;
  return (
    <div className="jd-exits">
      <div className="jd-section-title">Exits</div>
      {exits.map((exit) => (
        <div className={`jd-exit${exit.fallback ? " jd-exit-fallback" : ""}`} key={exit.key}>
          <span className="jd-exit-label" title={exit.label}>
            {exit.label}
          </span>
          <span className="jd-arrow">→</span>
          <TargetSelect
            view={view}
            source={node.id}
            exitKey={exit.key}
            target={exit.target}
            kinds={kinds}
            send={send}
            label={`Where ${exit.label} goes`}
          />
        </div>
      ))}
      {addingRow ? (
        <div className="jd-exit jd-exit-new">
          <span className="jd-exit-label">{adding}</span>
          <span className="jd-arrow">→</span>
          <TargetSelect
            view={view}
            source={node.id}
            exitKey={adding}
            target={null}
            kinds={kinds}
            send={(request) => {
              setAdding("");
              send(request);
            }}
            label={`Where key ${adding} goes`}
          />
        </div>
      ) : null}
      {free.length ? (
        <select
          className="jd-add-key"
          aria-label="Add a key to this menu"
          value=""
          onChange={(event) => setAdding(event.target.value)}
        >
          <option value="">Add key…</option>
          {free.map((key) => (
            <option key={key} value={key}>
              key {key}
            </option>
          ))}
        </select>
      ) : null}
    </div>
  );
}

function NodeInspector({ view, node, forms, drafts, send, prefix }) {
  // Leaving a node (another is selected, or none) sends what was typed into it first.
  useEffect(() => () => drafts.flushNode(node.id), [drafts, node.id]);
  const fields = (forms.fields && forms.fields[node.kind]) || [];
  const ids = (view.nodes || []).map((n) => n.id);
  const problems = node.problems || [];
  return (
    <div className="jd-node" style={{ "--jd-accent": kindColour(node.kind) }}>
      <div className="jd-node-head">
        <IdField
          node={node}
          ids={ids}
          pattern={forms.node_id}
          inputId={`${prefix}-id`}
          onRename={(id) => {
            drafts.flushNode(node.id);
            send({ type: "rename", node: node.id, new: id });
          }}
        />
        <span className="jd-kind jd-node-kind">{node.kind}</span>
      </div>
      <div className="jd-node-actions">
        <button
          type="button"
          className={`jd-set-entry${node.entry ? " jd-on" : ""}`}
          disabled={node.entry}
          aria-pressed={node.entry}
          title={node.entry ? "Calls start here" : "Make calls start here"}
          onClick={() => send({ type: "entry", node: node.id })}
        >
          {node.entry ? "▶ Entry" : "Set as entry"}
        </button>
        <button
          type="button"
          className="jd-delete-node"
          title="Delete this node and its edges (Undo brings it back)"
          onClick={() => {
            drafts.forget(node.id);
            send({ type: "delete", nodes: [node.id], edges: [] });
          }}
        >
          Delete
        </button>
      </div>
      {problems.length ? (
        <ul className="jd-problems">
          {problems.map((problem, index) => (
            <li key={index} className={`jd-problem-${problem.severity}`}>
              {problem.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="jd-fields">
        {fields.map((field) => (
          <Field
            key={field.name}
            node={node}
            field={field}
            drafts={drafts}
            inputId={`${prefix}-field-${field.name}`}
          />
        ))}
      </div>
      <Exits view={view} node={node} kinds={forms.kinds || []} send={send} />
      <Palette kinds={forms.kinds || []} near={node.id} send={send} title="Add a node beside this one" />
    </div>
  );
}

/** The flow's own name and one line of description, sent when a field is left or Enter pressed. */
function FlowFields({ flow, send, prefix }) {
  const [name, setName] = useState(flow.name || "");
  const [description, setDescription] = useState(flow.description || "");
  // A new name or description from Python (undo, code) shows unless one is being typed.
  const [seen, setSeen] = useState([flow.name, flow.description]);
  if (seen[0] !== flow.name || seen[1] !== flow.description) {
    setSeen([flow.name, flow.description]);
    setName(flow.name || "");
    setDescription(flow.description || "");
  }
  const commit = () => {
    if (name.trim() === (flow.name || "") && description.trim() === (flow.description || "")) return;
    send({ type: "describe", name, description });
  };
  const onKeyDown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      commit();
    }
  };
  return (
    <div className="jd-flow-fields">
      <div className="jd-section-title">This flow</div>
      <div className="jd-field jd-field-flow-name">
        <label htmlFor={`${prefix}-flow-name`}>Name</label>
        <input
          id={`${prefix}-flow-name`}
          type="text"
          value={name}
          spellCheck={false}
          onChange={(event) => setName(event.target.value)}
          onBlur={commit}
          onKeyDown={onKeyDown}
        />
      </div>
      <div className="jd-field jd-field-flow-description">
        <label htmlFor={`${prefix}-flow-description`}>Description</label>
        <input
          id={`${prefix}-flow-description`}
          type="text"
          value={description}
          onChange={(event) => setDescription(event.target.value)}
          onBlur={commit}
          onKeyDown={onKeyDown}
        />
        <div className="jd-help">One line: what this IVR is for, kept in the flow file.</div>
      </div>
    </div>
  );
}

/**
 * The inspector for the selected node. `focusRequest` ({node, serial}) asks for the first field
 * of `node` to take the typing: it is served once that node's form is drawn (its selection and
 * its view may arrive a moment after the request), and only once.
 */
export function Inspector({ view, forms, selected, drafts, send, prefix, focusRequest }) {
  useSyncExternalStore(drafts.subscribe, drafts.getVersion);
  const box = useRef(null);
  const node = selected ? (view.nodes || []).find((n) => n.id === selected) : null;
  const shown = node ? node.id : "";
  const served = useRef(0);
  useEffect(() => {
    if (!focusRequest || !focusRequest.serial || served.current === focusRequest.serial) return;
    if (!box.current || (focusRequest.node && shown !== focusRequest.node)) return;
    const first =
      box.current.querySelector(".jd-field textarea, .jd-field input, .jd-field select") ||
      box.current.querySelector(".jd-node-id-input");
    if (!first) return;
    first.focus();
    served.current = focusRequest.serial;
  }, [focusRequest, shown]);
  return (
    <div className="jd-inspector" ref={box}>
      {node ? (
        <NodeInspector
          key={node.id}
          view={view}
          node={node}
          forms={forms}
          drafts={drafts}
          send={send}
          prefix={prefix}
        />
      ) : (
        <>
          <FlowFields flow={view.flow || {}} send={send} prefix={prefix} />
          <p className="jd-hint">
            Select a card to see and edit it here. Drag from an exit to empty canvas to add the
            next node.
          </p>
          <Palette kinds={forms.kinds || []} near={null} send={send} title="Add a node" />
        </>
      )}
    </div>
  );
}
