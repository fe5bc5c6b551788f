// The jaxl-designer canvas: an anywidget module that draws Python's `view` with React Flow,
// with the inspector and the test phone in a panel beside it.
//
// Python owns the flow: every edit here is a message (connect, move, delete, apply, ...) and
// Python answers with a new `view`. Only selection, dragging, typing and the viewport live in
// the browser.
import {
  createContext,
  memo,
  useCallback,
  useContext,
  useDeferredValue,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { createRoot } from "react-dom/client";
import {
  Background,
  BackgroundVariant,
  BaseEdge,
  ConnectionLineType,
  Controls,
  EdgeLabelRenderer,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  getSmoothStepPath,
  useConnection,
  useNodesInitialized,
  useReactFlow,
  useStore,
  ViewportPortal,
} from "@xyflow/react";
import flowCss from "@xyflow/react/dist/style.css";
import canvasCss from "./canvas.css";
import panelCss from "./panel.css";
import pieceCss from "./piece.css";
import { isTextField, useTrait } from "./hooks.js";
import { Drafts } from "./inspector.js";
import { Inspector } from "./inspector-panel.jsx";
import { Phone } from "./phone-panel.jsx";
import { inCall } from "./phone.js";
import { EXIT_REACH, groupEdges, groupNodes, toggleText } from "./pieces.js";
import {
  DEFAULT_HEIGHT,
  aroundPath,
  cardOfStep,
  DROP_HANDLE,
  EMPTY_HINT,
  LABEL_ZOOM,
  MIN_ZOOM,
  MISSING_COLOUR,
  READABLE_ZOOM,
  TARGET_HANDLE,
  cardCentre,
  cardSize,
  connectMessage,
  exitOf,
  countProblems,
  deleteMessage,
  historyTitle,
  isEmpty,
  kindColour,
  keepUnchanged,
  kindMenuPlace,
  moveMessage,
  nextInCycle,
  openingFocus,
  overviewPaths,
  pathPoints,
  placeLabels,
  pointAlong,
  problemNodes,
  problemSummary,
  searchNodes,
  shortcut,
  summaryTitle,
  toFlowEdges,
  toFlowNodes,
  viewPositions,
} from "./view.js";

const FIT = { padding: 0.12, maxZoom: 1 };
const CORNER = 8;
const EMPTY_VIEW = { nodes: [], missing: [], card: [240, 96], direction: "TB" };

/** The view's direction ("TB" or "LR"), for edges that run back round a card. */
const Direction = createContext("TB");

/** Goes to a node (selects it and centres on it): what a "back to the start" marker does. */
const GoTo = createContext(() => {});

/** Opens or closes a subflow card's piece (by the card's id): what its toggle does. */
const Groups = createContext(() => {});

/** The button on a subflow card that opens its piece as a group, or why it cannot. */
function PieceToggle({ id, piece, open }) {
  const toggle = useContext(Groups);
  if (piece.error) {
    return (
      <span className="jd-piece-toggle jd-piece-none" title={`Cannot show the piece: ${piece.error}`}>
        no piece
      </span>
    );
  }
  return (
    <button
      type="button"
      className="jd-piece-toggle nodrag nopan"
      aria-expanded={open}
      title={open ? `Close the piece ${piece.name}` : `Show the ${piece.steps} steps of the piece ${piece.name}`}
      onPointerDown={(event) => event.stopPropagation()}
      onClick={(event) => {
        event.stopPropagation();
        toggle(id);
      }}
      // Enter and Space are the button's own, not the canvas's (Enter opens the inspector).
      onKeyDown={(event) => {
        if (event.key === "Enter" || event.key === " ") event.stopPropagation();
      }}
    >
      {toggleText(piece.steps, open)}
    </button>
  );
}

const CardNode = memo(function CardNode({ id, data }) {
  const goTo = useContext(GoTo);
  // Where the handles are comes with the node (`node.handles`, from view.js), so React Flow needs
  // no re-measuring when exits or the direction change.
  const lr = data.direction === "LR";
  const dropping = useConnection((c) => c.inProgress && c.fromNode?.id !== id);
  const inSide = lr ? Position.Left : Position.Top;
  const outSide = lr ? Position.Right : Position.Bottom;
  const accent = data.kind === "missing" ? MISSING_COLOUR : kindColour(data.kind);
  return (
    <>
      <div className="jd-card-body" style={{ "--jd-accent": accent }} title={data.prompt || undefined}>
        <div className="jd-stripe" />
        <div className="jd-head">
          <span className="jd-id">{data.id}</span>
          {data.kind === "missing" ? null : <span className="jd-kind">{data.kind}</span>}
          {data.severity ? (
            <span className={`jd-badge jd-badge-${data.severity}`} title={data.problemTitle}>
              !
            </span>
          ) : null}
          {data.piece ? <PieceToggle id={id} piece={data.piece} open={data.open} /> : null}
        </div>
        {data.kind === "missing" ? (
          <div className="jd-lines jd-missing-text">not in the flow</div>
        ) : (
          <div className="jd-lines">
            {data.lines.map((line, index) => (
              <div className="jd-line" key={index}>
                {line}
              </div>
            ))}
          </div>
        )}
      </div>
      {data.entry ? <div className="jd-start">▶ start</div> : null}
      {data.traffic ? <div className="jd-traffic-line">{data.traffic}</div> : null}
      {data.pieceEntry ? <div className="jd-start jd-piece-in">▶ in</div> : null}
      <Handle
        type="target"
        id={TARGET_HANDLE}
        position={inSide}
        isConnectableStart={false}
        isConnectable={!data.inner}
        className="jd-in"
      />
      {(data.exitIns || []).map((handle) => (
        <Handle
          key={handle.id}
          type="target"
          id={handle.id}
          position={inSide}
          isConnectable={false}
          className="jd-exit-in"
          style={
            lr
              ? { top: `${handle.offset}%`, left: `calc(100% - ${EXIT_REACH}px)` }
              : { left: `${handle.offset}%`, top: `calc(100% - ${EXIT_REACH}px)` }
          }
        />
      ))}
      {dropping && !data.inner ? (
        <Handle type="target" id={DROP_HANDLE} position={inSide} isConnectableStart={false} className="jd-drop" />
      ) : null}
      {data.handles.map((handle) => (
        <Handle
          key={handle.id}
          type="source"
          id={handle.id}
          position={outSide}
          isConnectableEnd={false}
          isConnectable={!data.inner}
          title={handle.title}
          style={lr ? { top: `${handle.offset}%` } : { left: `${handle.offset}%` }}
          className={[
            "jd-out",
            data.dense ? "jd-dense" : "",
            handle.connected ? "jd-connected" : "",
            handle.fallback ? "jd-fallback-exit" : "",
            handle.folded ? "jd-folded" : "",
            handle.add ? "jd-add" : "",
          ].join(" ")}
        >
          {handle.add ? "+" : <span className="jd-key">{handle.text}</span>}
          {handle.folded ? (
            <span
              className="jd-back nodrag nopan"
              role="button"
              title={handle.title}
              onPointerDown={(event) => event.stopPropagation()}
              onClick={(event) => {
                event.stopPropagation();
                goTo(handle.folded);
              }}
            >
              ↩
            </span>
          ) : null}
        </Handle>
      ))}
    </>
  );
});

const NODE_TYPES = { card: CardNode, missing: CardNode, piece: CardNode };

/** An exit's edge: a rounded step line, its label at the spot `placeLabels` chose for it. */
const ExitEdge = memo(function ExitEdge(props) {
  const { id, label, data, markerEnd, selected, style } = props;
  const direction = useContext(Direction);
  const [path] =
    data.lane != null
      ? [aroundPath(props, data.lane, direction)]
      : getSmoothStepPath({ ...props, borderRadius: CORNER });
  const at = pointAlong(pathPoints(path), data.labelAt);
  const classes = [
    "jd-edge-label",
    data.fallback ? "jd-fallback" : "",
    data.onPath ? "jd-on-path" : "",
    selected ? "jd-selected" : "",
  ].join(" ");
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={16} />
      {label ? (
        <EdgeLabelRenderer>
          <div className={classes} style={{ transform: `translate(-50%, -50%) translate(${at.x}px, ${at.y}px)` }}>
            {label}
          </div>
        </EdgeLabelRenderer>
      ) : null}
    </>
  );
});

const EDGE_TYPES = { exit: ExitEdge };

/** Zoomed out: every edge in three paths, one picture to pan instead of an element per edge. */
const Overview = memo(function Overview({ view, folded }) {
  const paths = useMemo(() => overviewPaths(view, { folded }), [view, folded]);
  return (
    <ViewportPortal>
      <svg className="jd-overview" aria-hidden="true">
        {["plain", "fallback", "path"].map((name) =>
          paths[name] ? <path key={name} className={`jd-overview-${name}`} d={paths[name]} /> : null,
        )}
      </svg>
    </ViewportPortal>
  );
});

/** Arrow heads for the three kinds of edge, coloured by the theme (see canvas.css). */
function Markers({ prefix }) {
  const arrow = (name) => (
    <marker
      id={`${prefix}-${name}`}
      className={`jd-marker jd-marker-${name}`}
      viewBox="0 0 10 10"
      refX="9"
      refY="5"
      markerWidth="12"
      markerHeight="12"
      markerUnits="userSpaceOnUse"
      orient="auto-start-reverse"
    >
      <path d="M0,0 L10,5 L0,10 z" />
    </marker>
  );
  return (
    <svg className="jd-markers" aria-hidden="true">
      <defs>
        {arrow("plain")}
        {arrow("fallback")}
        {arrow("path")}
      </defs>
    </svg>
  );
}

function Search({ view, onPick }) {
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const matches = useMemo(() => searchNodes(view, query, 8), [view, query]);
  const pick = (match) => {
    if (!match) return;
    onPick(match.id);
    setOpen(false);
  };
  const onKeyDown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      pick(matches[Math.min(active, matches.length - 1)]);
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, matches.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  };
  return (
    <div className="jd-search">
      <input
        type="search"
        placeholder="Find a node…"
        aria-label="Find a node by id or prompt text"
        value={query}
        onChange={(event) => {
          setQuery(event.target.value);
          setActive(0);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      {open && query.trim() ? (
        <ul className="jd-matches" role="listbox">
          {matches.length ? (
            matches.map((match, index) => (
              <li
                key={match.id}
                role="option"
                aria-selected={index === active}
                className={index === active ? "jd-active" : ""}
                onMouseDown={(event) => {
                  event.preventDefault();
                  pick(match);
                }}
                onMouseEnter={() => setActive(index)}
              >
                <span className="jd-match-id">{match.id}</span>
                <span className="jd-match-kind" style={{ color: kindColour(match.kind) }}>
                  {match.kind}
                </span>
                {match.text ? <span className="jd-match-text">{match.text}</span> : null}
              </li>
            ))
          ) : (
            <li className="jd-no-match">No node matches</li>
          )}
        </ul>
      ) : null}
    </div>
  );
}

function Toolbar({ view, send, onPick, onFit, onShowCall, onProblems, folded, onFold }) {
  const counts = countProblems(view);
  const summary = problemSummary(counts);
  const direction = view.direction === "LR" ? "LR" : "TB";
  const current = view.path && view.path.current;
  return (
    <div className="jd-toolbar">
      <Search view={view} onPick={onPick} />
      <button type="button" onClick={onFit} title="Fit the whole flow in view">
        Fit
      </button>
      <button type="button" onClick={() => send({ type: "tidy" })} title="Lay the cards out again">
        Tidy up
      </button>
      <div className="jd-toggle" role="group" aria-label="Layout direction">
        {["TB", "LR"].map((value) => (
          <button
            type="button"
            key={value}
            aria-pressed={direction === value}
            className={direction === value ? "jd-on" : ""}
            title={value === "TB" ? "Top to bottom" : "Left to right"}
            onClick={() => direction !== value && send({ type: "direction", value })}
          >
            {value}
          </button>
        ))}
      </div>
      {foldable(view) ? (
        <button
          type="button"
          className={`jd-fold${folded ? " jd-on" : ""}`}
          aria-pressed={folded}
          title={
            folded
              ? "Edges back to the start are folded into ↩ markers: click to draw them"
              : "Fold edges back to the start into ↩ markers"
          }
          onClick={onFold}
        >
          ↩ Fold
        </button>
      ) : null}
      <button
        type="button"
        disabled={view.undo === null}
        title={historyTitle("Undo", view.undo) + " (Ctrl+Z)"}
        onClick={() => send({ type: "undo" })}
      >
        Undo
      </button>
      <button
        type="button"
        disabled={view.redo === null}
        title={historyTitle("Redo", view.redo) + " (Ctrl+Shift+Z)"}
        onClick={() => send({ type: "redo" })}
      >
        Redo
      </button>
      <button
        type="button"
        disabled={!current}
        title={current ? `Centre on ${current}, where the call is` : "No call in progress"}
        onClick={onShowCall}
      >
        Show call
      </button>
      <span className="jd-spacer" />
      <button
        type="button"
        className={`jd-summary jd-summary-${summary.level}`}
        title={summaryTitle(view) || undefined}
        onClick={onProblems}
      >
        {summary.level === "ok" ? "✓ " : "! "}
        {summary.text}
      </button>
    </div>
  );
}

/** True when some exit of the view can be folded into a "back to the start" marker. */
function foldable(view) {
  return (view.nodes || []).some((node) => (node.exits || []).some((exit) => exit.folded));
}

const Editor = memo(function Editor({ model, prefix, send, onOpen, forms }) {
  const view = useTrait(model, "view", EMPTY_VIEW) || EMPTY_VIEW;
  const message = useTrait(model, "message", null);
  const height = useTrait(model, "height", DEFAULT_HEIGHT) || DEFAULT_HEIGHT;
  const flow = useReactFlow();
  const markers = useMemo(
    () => ({ plain: `${prefix}-plain`, fallback: `${prefix}-fallback`, path: `${prefix}-path` }),
    [prefix],
  );
  const [folded, setFolded] = useState(true);
  // The subflow cards shown open, as groups with their piece's cards: this canvas's own choice,
  // kept across new views.
  const [expanded, setExpanded] = useState(() => new Set());
  const toggleGroup = useCallback(
    (id) =>
      setExpanded((open) => {
        const next = new Set(open);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    [],
  );
  const [nodes, setNodes] = useState(() => {
    const selected = model.get("selected");
    const cards = toFlowNodes(view, { selected: new Set(selected ? [selected] : []), folded });
    return groupNodes(cards, view, expanded, { folded });
  });
  const labels = useMemo(() => placeLabels(view, getSmoothStepPath, { folded }), [view, folded]);
  const [edges, setEdges] = useState(() =>
    groupEdges(toFlowEdges(view, { markers, labels, folded }), view, expanded, {
      route: getSmoothStepPath,
      markers,
    }),
  );
  // Edge labels too small to read are left out (see canvas.css): panning a large flow stays fast.
  const far = useStore((s) => s.transform[2] < LABEL_ZOOM);
  // The latest view and canvas state, for callbacks that keep their identity across renders.
  const latest = useRef({ view, nodes, edges });
  useLayoutEffect(() => {
    latest.current = { view, nodes, edges };
  });
  // What the `selected` trait was last set to, by us or by Python: a change to anything else
  // comes from Python and moves the canvas.
  const lastSelected = useRef(model.get("selected") || "");
  // A node Python selected that the canvas has not drawn yet (it comes with the next view).
  const pending = useRef(null);
  const cycle = useRef("");
  const box = useRef(null);

  const writeSelected = useCallback(
    (id) => {
      lastSelected.current = id;
      if ((model.get("selected") || "") === id) return;
      model.set("selected", id);
      model.save_changes();
    },
    [model],
  );

  const selectOnly = useCallback((id) => {
    setNodes((ns) =>
      ns.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })),
    );
    setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
  }, []);

  const centreOn = useCallback(
    (id) => {
      const node = latest.current.nodes.find((n) => n.id === id);
      if (!node) return false;
      // A step of an open piece is placed within its group: centre on where it is drawn.
      const inner = node.parentId ? flow.getInternalNode(id) : null;
      const at = inner ? inner.internals.positionAbsolute : node.position;
      const { x, y } = cardCentre(at, cardSize(latest.current.view));
      flow.setCenter(x, y, { zoom: Math.max(flow.getZoom(), READABLE_ZOOM), duration: 300 });
      return true;
    },
    [flow, latest],
  );

  /** Select a node, centre on it and tell Python: what search and the problem summary do. */
  const goTo = useCallback(
    (id) => {
      selectOnly(id);
      centreOn(id);
      writeSelected(id);
    },
    [selectOnly, centreOn, writeSelected],
  );

  // A new view replaces the cards and edges that changed; selection stays, the viewport is left
  // alone. Unchanged cards and edges keep their objects, so React Flow redraws only the rest.
  useEffect(() => {
    setNodes((previous) => {
      const selected = new Set(previous.filter((n) => n.selected).map((n) => n.id));
      if (pending.current) selected.add(pending.current);
      const cards = toFlowNodes(view, { selected, folded });
      return keepUnchanged(previous, groupNodes(cards, view, expanded, { folded }));
    });
    setEdges((previous) => {
      const selected = new Set(previous.filter((e) => e.selected).map((e) => e.id));
      const exits = toFlowEdges(view, { selected, markers, labels, folded });
      return keepUnchanged(previous, groupEdges(exits, view, expanded, { route: getSmoothStepPath, markers }));
    });
  }, [view, markers, labels, folded, expanded]);

  // Python chose a node: select it and bring it into view.
  useEffect(() => {
    const onSelected = () => {
      const id = model.get("selected") || "";
      if (id === lastSelected.current) return;
      lastSelected.current = id;
      selectOnly(id);
      if (id && !centreOn(id)) pending.current = id;
    };
    model.on("change:selected", onSelected);
    return () => model.off("change:selected", onSelected);
  }, [model, selectOnly, centreOn]);

  useEffect(() => {
    if (pending.current && centreOn(pending.current)) pending.current = null;
  }, [nodes, centreOn]);

  // Fit once, when there is something to fit and the canvas is on screen (not while hidden).
  const measured = useNodesInitialized();
  const pane = useStore((s) => (s.width > 0 && s.height > 0 ? `${s.width}x${s.height}` : ""));
  const fitted = useRef(false);
  useEffect(() => {
    if (fitted.current || !measured || !pane || !nodes.length) return;
    fitted.current = true;
    const [width, height] = pane.split("x").map(Number);
    const focus = openingFocus(latest.current.view, width, height, FIT.padding);
    flow.fitView(focus ? { ...FIT, nodes: focus.map((id) => ({ id })) } : FIT);
  }, [measured, pane, nodes.length, flow]);

  const onNodesChange = useCallback(
    (changes) => setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns)),
    [],
  );
  const onEdgesChange = useCallback(
    (changes) => setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es)),
    [],
  );

  const nodeIdFor = (node) => (node && node.type === "card" ? node.id : "");

  const onNodeClick = useCallback(
    (event, node) => {
      const toggledOff = (event.ctrlKey || event.metaKey || event.shiftKey) && node.selected;
      if (!toggledOff) return writeSelected(nodeIdFor(node));
      const others = latest.current.nodes.filter((n) => n.selected && n.id !== node.id);
      writeSelected(nodeIdFor(others[0]));
    },
    [writeSelected, latest],
  );
  const onNodeDragStart = useCallback(
    (event, node, dragged) => {
      if (dragged.length === 1) writeSelected(nodeIdFor(node));
    },
    [writeSelected],
  );
  const onNodeDragStop = useCallback(
    (event, node, dragged) => {
      const content = moveMessage(dragged.length ? dragged : [node], viewPositions(latest.current.view));
      if (content) send(content);
    },
    [send, latest],
  );
  const onSelectionEnd = useCallback(() => {
    const chosen = flow.getNodes().filter((n) => n.selected && n.type === "card");
    writeSelected(chosen.length === 1 ? chosen[0].id : "");
  }, [flow, writeSelected]);
  const clearSelected = useCallback(() => writeSelected(""), [writeSelected]);

  const isValidConnection = useCallback(
    (connection) => connectMessage(latest.current.view, connection) !== null,
    [latest],
  );
  // A connection dropped on empty canvas offers a new node there, connected from that exit.
  const flowBox = useRef(null);
  const [kindMenu, setKindMenu] = useState(null);
  const onConnectEnd = useCallback(
    (event, state) => {
      if (state.isValid || !flowBox.current) return;
      const target = event.target;
      if (!target || !target.classList || !target.classList.contains("react-flow__pane")) return;
      const exit = exitOf(latest.current.view, state.fromNode && state.fromNode.id, state.fromHandle && state.fromHandle.id);
      if (!exit) return;
      const point = event.changedTouches ? event.changedTouches[0] : event;
      const box = flowBox.current.getBoundingClientRect();
      setKindMenu({ x: point.clientX - box.left, y: point.clientY - box.top, width: box.width, height: box.height, source: exit[0], key: exit[1] });
    },
    [latest],
  );
  const closeKindMenu = useCallback(() => setKindMenu(null), []);
  const chooseKind = useCallback(
    (kind) => {
      if (!kindMenu) return;
      setKindMenu(null);
      send({ type: "add", kind, from: [kindMenu.source, kindMenu.key] });
    },
    [kindMenu, send],
  );

  const onConnect = useCallback(
    (connection) => {
      const content = connectMessage(latest.current.view, connection);
      if (content) send(content);
    },
    [send, latest],
  );

  const onKeyDown = useCallback(
    (event) => {
      const action = shortcut({
        key: event.key,
        ctrlKey: event.ctrlKey,
        metaKey: event.metaKey,
        shiftKey: event.shiftKey,
        altKey: event.altKey,
        inText: isTextField(event.target),
      });
      if (!action) return;
      const { view: v, nodes: ns, edges: es } = latest.current;
      if (action === "undo" || action === "redo") {
        if (v[action] !== null) send({ type: action });
      } else if (action === "delete") {
        const content = deleteMessage({
          nodes: ns.filter((n) => n.selected),
          edges: es.filter((e) => e.selected),
          allEdges: es,
        });
        if (content) send(content);
      } else if (action === "open") {
        const chosen = ns.filter((n) => n.selected && n.type === "card");
        const node = chosen.find((n) => n.id === lastSelected.current) || chosen[0];
        if (!node) return;
        onOpen(node.id);
      }
      event.preventDefault();
      event.stopPropagation();
    },
    [send, onOpen, latest],
  );

  // Keys reach the canvas only while focus is inside it: clicking the canvas focuses it, and
  // when Python's answer redraws (or removes) the focused card or edge, focus stays with the
  // canvas rather than falling to the page, so the next Ctrl+Z or Delete still lands here.
  const onPointerDownCapture = useCallback((event) => {
    if (!isTextField(event.target) && box.current && !box.current.contains(document.activeElement)) {
      box.current.focus({ preventScroll: true });
    }
  }, []);
  const focusInside = useRef(false);
  const keepFocus = useCallback(() => {
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && box.current && box.current.isConnected) box.current.focus({ preventScroll: true });
  }, []);
  const onFocus = useCallback(() => {
    focusInside.current = true;
  }, []);
  const onBlur = useCallback(
    (event) => {
      if (box.current && box.current.contains(event.relatedTarget)) return;
      if (event.relatedTarget) {
        focusInside.current = false;
        return;
      }
      // Focus went nowhere: the user clicked off the canvas, or what had focus was removed.
      const left = event.target;
      requestAnimationFrame(() => {
        if (left.isConnected) focusInside.current = false;
        else keepFocus();
      });
    },
    [keepFocus],
  );
  // React sends no blur for an element it removes itself: check after every redraw (a frame
  // later, once React Flow has drawn the new cards too).
  useEffect(() => {
    if (!focusInside.current) return undefined;
    const frame = requestAnimationFrame(keepFocus);
    return () => cancelAnimationFrame(frame);
  }, [nodes, edges, keepFocus]);

  const onFit = useCallback(() => flow.fitView({ ...FIT, duration: 300 }), [flow]);
  const onFold = useCallback(() => setFolded((on) => !on), []);
  const onShowCall = useCallback(() => {
    const current = latest.current.view.path && latest.current.view.path.current;
    if (current) centreOn(current);
  }, [centreOn, latest]);
  const onProblems = useCallback(() => {
    const next = nextInCycle(problemNodes(latest.current.view), cycle.current);
    if (!next) return;
    cycle.current = next;
    goTo(next);
  }, [goTo, latest]);

  const minimapColour = useCallback(
    (node) => (node.type === "missing" ? MISSING_COLOUR : kindColour(node.data.kind)),
    [],
  );

  return (
    <div
      className={`jd-canvas jd-dir-${view.direction === "LR" ? "LR" : "TB"}${far ? " jd-far" : ""}`}
      ref={box}
      tabIndex={-1}
      data-lm-suppress-shortcuts="true"
      onKeyDown={onKeyDown}
      onPointerDownCapture={onPointerDownCapture}
      onFocus={onFocus}
      onBlur={onBlur}
    >
      <Toolbar
        view={view}
        send={send}
        onPick={goTo}
        onFit={onFit}
        onShowCall={onShowCall}
        onProblems={onProblems}
        folded={folded}
        onFold={onFold}
      />
      <div className={`jd-message${message && message.error ? " jd-error" : ""}`} role="status">
        {message && message.text ? <span key={message.serial}>{message.text}</span> : null}
      </div>
      <div className="jd-flow" style={{ height: `${height}px` }} ref={flowBox}>
        <Markers prefix={prefix} />
        <GoTo.Provider value={goTo}>
        <Groups.Provider value={toggleGroup}>
        <Direction.Provider value={view.direction === "LR" ? "LR" : "TB"}>
        <ReactFlow
          id={prefix}
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          edgeTypes={EDGE_TYPES}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeClick={onNodeClick}
          onNodeDragStart={onNodeDragStart}
          onNodeDragStop={onNodeDragStop}
          onSelectionEnd={onSelectionEnd}
          onEdgeClick={clearSelected}
          onPaneClick={clearSelected}
          onConnect={onConnect}
          onConnectEnd={onConnectEnd}
          isValidConnection={isValidConnection}
          connectOnClick={false}
          connectionLineType={ConnectionLineType.SmoothStep}
          deleteKeyCode={null}
          disableKeyboardA11y
          panOnDrag
          zoomOnScroll
          minZoom={MIN_ZOOM}
          maxZoom={2.5}
          elevateEdgesOnSelect
          onlyRenderVisibleElements={nodes.length > 400}
          attributionPosition="top-right"
        >
          {/* Zoomed far out the dots would be a pixel apart: a costly pattern that shows nothing. */}
          {far ? null : <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} />}
          <MiniMap
            nodeColor={minimapColour}
            nodeStrokeWidth={0}
            nodeBorderRadius={6}
            pannable
            zoomable
            ariaLabel="Overview of the flow"
          />
          <Controls showInteractive={false} fitViewOptions={FIT} />
          {far ? <Overview view={view} folded={folded} /> : null}
        </ReactFlow>
        </Direction.Provider>
        </Groups.Provider>
        </GoTo.Provider>
        {isEmpty(view) ? <div className="jd-empty">{EMPTY_HINT}</div> : null}
        {kindMenu ? (
          <KindMenu menu={kindMenu} kinds={forms.kinds || []} onChoose={chooseKind} onClose={closeKindMenu} />
        ) : null}
      </div>
    </div>
  );
});

/** The kinds a new node may be, at the point a connection was dropped on empty canvas. */
function KindMenu({ menu, kinds, onChoose, onClose }) {
  const box = useRef(null);
  useEffect(() => {
    const first = box.current && box.current.querySelector("button");
    if (first) first.focus({ preventScroll: true });
    const onPointerDown = (event) => {
      if (box.current && !box.current.contains(event.target)) onClose();
    };
    const onKey = (event) => {
      if (event.key === "Escape") onClose();
    };
    document.addEventListener("pointerdown", onPointerDown, true);
    document.addEventListener("keydown", onKey, true);
    return () => {
      document.removeEventListener("pointerdown", onPointerDown, true);
      document.removeEventListener("keydown", onKey, true);
    };
  }, [onClose]);
  const onKeyDown = (event) => {
    const buttons = [...box.current.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (step) {
      event.preventDefault();
      buttons[(at + step + buttons.length) % buttons.length].focus();
    }
    // The canvas's own keys (Delete, Enter) are not for it while the menu is open.
    event.stopPropagation();
  };
  const place = kindMenuPlace(menu, kinds.length);
  return (
    <div
      className="jd-drop-menu"
      role="menu"
      aria-label={`Add a node after ${menu.source} ${menu.key}`}
      ref={box}
      style={{ left: `${place.x}px`, top: `${place.y}px` }}
      onKeyDown={onKeyDown}
    >
      <div className="jd-drop-menu-title">
        After <b>{menu.source}</b> · {menu.key}
      </div>
      {kinds.map((kind) => (
        <button
          type="button"
          role="menuitem"
          key={kind}
          className={`jd-kind-choice jd-kind-choice-${kind}`}
          style={{ "--jd-accent": kindColour(kind) }}
          onClick={() => onChoose(kind)}
        >
          <span className="jd-dot" />
          {kind}
        </button>
      ))}
    </div>
  );
}

// Memoised, so that a deferred view or selection re-renders them after the canvas has drawn.
const PanelInspector = memo(Inspector);
const PanelPhone = memo(Phone);

/** Below this width (the widget's own, in px) the panel goes under the canvas. */
const NARROW = 900;
const EMPTY_FORMS = { kinds: [], fields: {}, node_id: "" };
const TABS = [
  ["inspector", "Inspector"],
  ["phone", "Phone"],
];

/** The canvas with its panel (inspector and phone) beside it, or under it when narrow. */
function Shell({ model, prefix }) {
  const view = useTrait(model, "view", EMPTY_VIEW) || EMPTY_VIEW;
  const forms = useTrait(model, "forms", EMPTY_FORMS) || EMPTY_FORMS;
  const selected = useTrait(model, "selected", "") || "";
  const flow = useReactFlow();
  const box = useRef(null);
  const [narrow, setNarrow] = useState(false);
  const [tab, setTab] = useState("inspector");
  // Which node's first field should take the typing next: {node, serial} (see Inspector).
  const [focusRequest, setFocusRequest] = useState({ node: "", serial: 0 });
  // An add was asked for: when Python selects the new node, its first field takes the typing.
  const adding = useRef(false);
  const [drafts] = useState(() => {
    const store = new Drafts({ send: (content) => model.send(content) });
    store.see(model.get("view"), model.get("forms"));
    return store;
  });

  useEffect(() => {
    const onView = () => drafts.see(model.get("view"), model.get("forms"));
    const onMessage = () => {
      drafts.hear(model.get("message"));
      adding.current = false;
    };
    const onSelected = () => {
      if (!adding.current || !model.get("selected")) return;
      adding.current = false;
      setTab("inspector");
      setFocusRequest((r) => ({ node: model.get("selected"), serial: r.serial + 1 }));
    };
    model.on("change:view", onView);
    model.on("change:forms", onView);
    model.on("change:message", onMessage);
    model.on("change:selected", onSelected);
    return () => {
      model.off("change:view", onView);
      model.off("change:forms", onView);
      model.off("change:message", onMessage);
      model.off("change:selected", onSelected);
    };
  }, [model, drafts]);

  useEffect(() => {
    const element = box.current;
    if (!element || typeof ResizeObserver === "undefined") return undefined;
    const observer = new ResizeObserver((entries) => {
      const width = entries[entries.length - 1].contentRect.width;
      if (width > 0) setNarrow(width < NARROW);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const send = useCallback(
    (content) => {
      if (content.type === "add") adding.current = true;
      model.send(content);
    },
    [model],
  );
  const onOpen = useCallback((id) => {
    setTab("inspector");
    setFocusRequest((r) => ({ node: id, serial: r.serial + 1 }));
  }, []);
  const showOnCanvas = useCallback(
    (id) => {
      const nodes = view.nodes || [];
      // A step inside a sub-flow is shown on its subflow's card.
      const node = nodes.find((n) => n.id === id) || nodes.find((n) => n.id === cardOfStep(id));
      if (!node) return;
      const { x, y } = cardCentre({ x: node.position[0], y: node.position[1] }, cardSize(view));
      flow.setCenter(x, y, { zoom: Math.max(flow.getZoom(), READABLE_ZOOM), duration: 300 });
    },
    [flow, view],
  );
  const live = inCall(view.call);
  // The panel follows the canvas a moment later: a click or an edit shows on the canvas first,
  // then the inspector catches up, without holding the canvas's frame back.
  const panelView = useDeferredValue(view);
  const panelSelected = useDeferredValue(selected);

  return (
    <div className={`jd-shell ${narrow ? "jd-narrow" : "jd-wide"}`} ref={box} data-lm-suppress-shortcuts="true">
      <Editor model={model} prefix={prefix} send={send} onOpen={onOpen} forms={forms} />
      <aside className="jd-panel" aria-label="Inspector and phone">
        <div className="jd-panel-inner">
          <div className="jd-tabs" role="tablist">
            {TABS.map(([value, label]) => (
              <button
                type="button"
                role="tab"
                key={value}
                id={`${prefix}-tab-${value}`}
                aria-selected={tab === value}
                aria-controls={`${prefix}-pane-${value}`}
                className={`jd-tab jd-tab-${value}${tab === value ? " jd-on" : ""}`}
                onClick={() => setTab(value)}
              >
                {label}
                {value === "phone" && live ? <span className="jd-live-dot" title="A call is in progress" /> : null}
              </button>
            ))}
          </div>
          <div
            className="jd-pane"
            role="tabpanel"
            id={`${prefix}-pane-inspector`}
            aria-labelledby={`${prefix}-tab-inspector`}
            hidden={tab !== "inspector"}
          >
            <PanelInspector
              view={panelView}
              forms={forms}
              selected={panelSelected}
              drafts={drafts}
              send={send}
              prefix={prefix}
              focusRequest={focusRequest}
            />
          </div>
          <div
            className="jd-pane"
            role="tabpanel"
            id={`${prefix}-pane-phone`}
            aria-labelledby={`${prefix}-tab-phone`}
            hidden={tab !== "phone"}
          >
            <PanelPhone view={panelView} send={send} onShow={showOnCanvas} />
          </div>
        </div>
      </aside>
    </div>
  );
}

function App({ model, prefix }) {
  return (
    <ReactFlowProvider>
      <Shell model={model} prefix={prefix} />
    </ReactFlowProvider>
  );
}

let instances = 0;

export default {
  render({ model, el }) {
    // createRoot replaces its container's children: the style sits beside the mount point.
    const style = document.createElement("style");
    style.textContent = `${flowCss}\n${canvasCss}\n${panelCss}\n${pieceCss}`;
    const mount = document.createElement("div");
    mount.className = "jd-root";
    el.append(style, mount);
    instances += 1;
    const prefix = `jd-canvas-${instances}-${Math.random().toString(36).slice(2, 8)}`;
    const root = createRoot(mount);
    root.render(<App model={model} prefix={prefix} />);
    return () => {
      root.unmount();
      style.remove();
      mount.remove();
    };
  },
};
