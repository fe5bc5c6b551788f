// A subflow card opened as a group of its piece's cards, checked on the pure functions that draw it.
import { test } from "node:test";
import assert from "node:assert/strict";

import { getSmoothStepPath } from "@xyflow/react";

import {
  EXIT_REACH,
  GROUP,
  GROUP_Z,
  boxLane,
  childId,
  childPosition,
  exitInHandle,
  groupEdges,
  groupNodes,
  groupSize,
  innerEdges,
  pieceEdgeId,
  spreadLanes,
  tellingLabel,
  toggleText,
} from "../src/pieces.js";
import {
  TARGET_HANDLE,
  connectMessage,
  deleteMessage,
  edgeId,
  exitHandle,
  keepUnchanged,
  parseEdgeId,
  toFlowEdges,
  toFlowNodes,
} from "../src/view.js";

const exit = (key, target, label = key.replace(/_/g, " "), fallback = false) => ({ key, label, target, fallback });
const step = (id, kind, position, exits) => ({ id, kind, lines: [`${id}'s prompt`], prompt: "", position, exits });

/** Notebook 05's bank as Python's `canvas_view` gives it: a `collect_and_confirm` subflow. */
function bank() {
  const card = (id, kind, position, exits = [], more = {}) => ({
    id,
    kind,
    entry: id === "welcome",
    lines: [`${id}'s line`],
    position,
    problems: [],
    exits: exits.map((e) => ({ ...e, folded: false })),
    add_key: false,
    ...more,
  });
  return {
    flow: { name: "bank", entry: "welcome" },
    direction: "TB",
    card: [240, 96],
    nodes: [
      card("welcome", "say", [140, 0], [exit("next", "account")]),
      card("account", "subflow", [140, 166], [exit("confirmed", "balance"), exit("gave_up", "agent", "gave up", true)], {
        piece: {
          name: "collect_and_confirm",
          entry: "ask",
          size: [240, 428],
          nodes: [
            step("ask", "collect", [0, 0], [
              exit("ok", "confirm"),
              exit("invalid", null, "invalid", true),
              exit("gave_up", "@gave_up", "gave up", true),
            ]),
            step("confirm", "menu", [0, 166], [
              exit("1", "@confirmed", "1 · confirm"),
              exit("2", "ask", "2 · re-enter"),
              exit("invalid", "sorry", "invalid", true),
              exit("gave_up", "@gave_up", "gave up", true),
            ]),
            step("sorry", "say", [0, 332], [exit("next", "confirm")]),
          ],
        },
        piece_error: null,
      }),
      card("balance", "hangup", [0, 332]),
      card("agent", "transfer", [280, 332]),
    ],
    missing: [],
    path: { nodes: [], edges: [], current: null },
  };
}

const OPEN = new Set(["account"]);
const byId = (items, id) => items.find((item) => item.id === id);
const nodesOf = (view, open = OPEN) => groupNodes(toFlowNodes(view), view, open);
const edgesOf = (view, open = OPEN, options = {}) => groupEdges(toFlowEdges(view), view, open, options);

test("a closed subflow card keeps its size and offers '▸ 3 steps'; other cards are untouched", () => {
  const view = bank();
  const plain = toFlowNodes(view);
  const nodes = groupNodes(plain, view, new Set());
  assert.equal(nodes.length, plain.length);
  const account = byId(nodes, "account");
  assert.deepEqual([account.width, account.height], [240, 96]);
  assert.deepEqual(account.data.piece, { steps: 3, name: "collect_and_confirm", error: null });
  assert.equal(account.data.open, false);
  assert.equal(byId(nodes, "welcome"), byId(plain, "welcome"));
  assert.equal(toggleText(3, false), "▸ 3 steps");
  assert.equal(toggleText(1, true), "▾ 1 step");
});

test("open, the card is a group as big as its piece plus its head and padding, drawn above cards", () => {
  const view = bank();
  const account = byId(nodesOf(view), "account");
  const [w, h] = groupSize(view.nodes[1].piece, [240, 96], "TB");
  assert.deepEqual([w, h], [GROUP.side + 240 + GROUP.side, GROUP.head + 428 + GROUP.foot]);
  assert.deepEqual([account.width, account.height], [w, h]);
  assert.deepEqual(account.measured, { width: w, height: h });
  assert.equal(account.zIndex, GROUP_Z);
  assert.ok(account.className.split(" ").includes("jd-group"));
  assert.equal(account.data.open, true);
  // Never smaller than a card, even for an empty piece.
  assert.deepEqual(groupSize({ size: [0, 0], nodes: [] }, [240, 96], "TB"), [240, GROUP.head + GROUP.foot]);
});

test("the piece's cards follow their group as read-only children, inside it, without overlaps", () => {
  const view = bank();
  const nodes = nodesOf(view);
  const at = nodes.findIndex((n) => n.id === "account");
  const children = nodes.filter((n) => n.parentId === "account");
  assert.deepEqual(children.map((n) => n.id), ["account/ask", "account/confirm", "account/sorry"]);
  // React Flow wants a parent before its children.
  assert.ok(children.every((child) => nodes.indexOf(child) > at));
  const group = nodes[at];
  for (const child of children) {
    assert.equal(child.type, "piece");
    assert.equal(child.draggable, false);
    assert.equal(child.selectable, false);
    assert.equal(child.connectable, false);
    assert.equal(child.deletable, false);
    assert.equal(child.style.pointerEvents, "none");
    assert.ok(child.position.x >= 0 && child.position.x + child.width <= group.width);
    assert.ok(child.position.y >= GROUP.head && child.position.y + child.height <= group.height);
  }
  assert.deepEqual(byId(children, "account/confirm").position, childPosition([0, 166]));
  for (const [i, a] of children.entries()) {
    for (const b of children.slice(i + 1)) {
      const apart = Math.abs(a.position.x - b.position.x) >= a.width || Math.abs(a.position.y - b.position.y) >= a.height;
      assert.ok(apart, `${a.id} overlaps ${b.id}`);
    }
  }
  assert.equal(byId(children, "account/ask").data.pieceEntry, true);
  assert.equal(byId(children, "account/confirm").data.pieceEntry, false);
});

test("the group's exits stay handles on its bottom edge; edges into it go to its top", () => {
  const view = bank();
  const account = byId(nodesOf(view), "account");
  const { width: w, height: h } = account;
  const target = account.handles.find((handle) => handle.id === TARGET_HANDLE);
  assert.equal(target.x + target.width / 2, w / 2);
  assert.equal(target.y + target.height / 2, 0);
  for (const key of ["confirmed", "gave_up"]) {
    const out = account.handles.find((handle) => handle.id === exitHandle(key));
    assert.equal(out.type, "source");
    assert.equal(out.y + out.height / 2, h);
    const into = account.handles.find((handle) => handle.id === exitInHandle(key));
    assert.equal(into.type, "target");
    assert.equal(into.x + into.width / 2, out.x + out.width / 2);
    assert.equal(into.y + into.height / 2, h - EXIT_REACH);
  }
  // Its outgoing edges still start at those handles, and connecting from them still works.
  const edge = edgesOf(view).find((e) => e.id === edgeId("account", "confirmed"));
  assert.equal(edge.sourceHandle, exitHandle("confirmed"));
  const drag = { source: "account", sourceHandle: exitHandle("gave_up"), target: "welcome" };
  assert.deepEqual(connectMessage(view, drag), { type: "connect", source: "account", key: "gave_up", target: "welcome" });
});

test("left to right, the exits run down the group's right side, below its head", () => {
  const view = { ...bank(), direction: "LR" };
  const account = byId(nodesOf(view), "account");
  const outs = account.handles.filter((handle) => handle.type === "source");
  assert.equal(outs.length, 2);
  for (const out of outs) {
    assert.equal(out.x + out.width / 2, account.width);
    assert.ok(out.y > GROUP.head && out.y < account.height);
  }
});

test("a piece that cannot be built says why, and opens nothing", () => {
  const view = bank();
  view.nodes[1].piece = null;
  view.nodes[1].piece_error = "piece 'greeting.json': no such file";
  const nodes = nodesOf(view);
  assert.equal(nodes.length, view.nodes.length);
  const account = byId(nodes, "account");
  assert.deepEqual([account.width, account.height], [240, 96]);
  assert.match(account.data.piece.error, /greeting\.json/);
  assert.deepEqual(edgesOf(view).map((e) => e.id), toFlowEdges(view).map((e) => e.id));
});

test("the piece's edges join its cards, and leave by the group's exits, read-only", () => {
  const view = bank();
  const edges = innerEdges(view.nodes[1], view);
  const from = (source, key) => edges.find((e) => e.source === childId("account", source) && e.data.key === key);
  const ok = from("ask", "ok");
  assert.equal(ok.target, "account/confirm");
  assert.equal(ok.targetHandle, TARGET_HANDLE);
  const confirmed = from("confirm", "1");
  assert.equal(confirmed.target, "account");
  assert.equal(confirmed.targetHandle, exitInHandle("confirmed"));
  assert.equal(from("ask", "invalid"), undefined); // not connected
  assert.equal(edges.length, 7);
  for (const edge of edges) {
    assert.equal(edge.selectable, false);
    assert.equal(edge.deletable, false);
    assert.ok(edge.className.includes("jd-piece-edge"));
    // Never taken for one of the flow's own edges: Delete cannot reach it.
    assert.equal(parseEdgeId(edge.id), null);
  }
  assert.equal(deleteMessage({ edges: [{ id: ok.id }] }), null);
  assert.equal(ok.id, pieceEdgeId("account", "ask", "ok"));
  // Labels only where they say more than the handle's key.
  assert.equal(confirmed.label, "1 · confirm");
  assert.equal(ok.label, "");
  assert.ok(tellingLabel({ key: "2", label: "2 · re-enter" }));
  assert.ok(!tellingLabel({ key: "gave_up", label: "gave up" }));
});

test("edges running back inside a piece take lanes beside it, apart from each other", () => {
  const view = bank();
  const edges = innerEdges(view.nodes[1], view, { route: getSmoothStepPath });
  const back = edges.filter((e) => e.data.lane != null);
  assert.deepEqual(back.map((e) => e.data.key).sort(), ["2", "next"]);
  assert.notEqual(back[0].data.lane, back[1].data.lane);
  const group = byId(nodesOf(view), "account");
  for (const edge of back) {
    assert.ok(edge.data.lane > 140 + GROUP.side + 240 && edge.data.lane < 140 + group.width);
  }
  for (const edge of edges) assert.ok(edge.data.labelAt >= 0 && edge.data.labelAt <= 1);
  const middles = new Map([["a", 100]]);
  const same = [1, 2, 3].map((i) => ({ id: `e${i}`, source: "a", data: { lane: 50 } }));
  assert.deepEqual(spreadLanes(same, middles).map((e) => e.data.lane), [50, 42, 34]);
});

test("an edge from an open group to a card it covers runs round both, not through them", () => {
  const view = bank();
  const edges = edgesOf(view);
  const confirmed = edges.find((e) => e.id === edgeId("account", "confirmed"));
  assert.equal(confirmed.data.lane, 0 - 18); // left of balance, the farther left of the two
  const gaveUp = edges.find((e) => e.id === edgeId("account", "gave_up"));
  assert.equal(gaveUp.data.lane, 280 + 240 + 18); // right of agent, past the group's side
  // The edge into it from above runs on as before.
  assert.equal(edges.find((e) => e.id === edgeId("welcome", "next")).data.lane, null);
  assert.equal(boxLane({ id: "a", x: 0, y: 0, w: 10, h: 10 }, { id: "b", x: 0, y: 20, w: 10, h: 10 }), null);
  assert.equal(boxLane({ id: "a", x: 0, y: 0, w: 10, h: 10 }, { id: "a", x: 0, y: 0, w: 10, h: 10 }), 28);
  assert.equal(boxLane({ id: "a", x: 0, y: 0, w: 10, h: 10 }, { id: "b", x: 0, y: 0, w: 10, h: 10 }, "LR"), 28);
});

test("the call's path lights up inside an open group, by the ids the simulator gives its steps", () => {
  const view = bank();
  view.path = {
    nodes: ["welcome", "account/ask", "account/confirm"],
    edges: [
      ["welcome", "next", "account/ask"],
      ["account/ask", "ok", "account/confirm"],
    ],
    current: "account/confirm",
  };
  const nodes = nodesOf(view);
  assert.ok(byId(nodes, "account/ask").className.includes("jd-visited"));
  assert.ok(byId(nodes, "account/confirm").className.includes("jd-current"));
  const edges = edgesOf(view);
  const ok = edges.find((e) => e.id === pieceEdgeId("account", "ask", "ok"));
  assert.equal(ok.data.onPath, true);
  view.path.edges.push(["account/confirm", "1", "balance"]);
  const leaving = edgesOf(view).find((e) => e.id === pieceEdgeId("account", "confirm", "1"));
  assert.equal(leaving.data.onPath, true);
});

test("nothing open leaves the edges as they are; an unchanged view keeps every object", () => {
  const view = bank();
  const edges = toFlowEdges(view);
  assert.equal(groupEdges(edges, view, new Set()), edges);
  assert.equal(groupEdges(edges, view, new Set(["welcome"])), edges);
  const before = nodesOf(view);
  assert.equal(keepUnchanged(before, nodesOf(bank())), before);
  const lines = edgesOf(view, OPEN, { route: getSmoothStepPath });
  assert.equal(keepUnchanged(lines, edgesOf(bank(), OPEN, { route: getSmoothStepPath })), lines);
});

test("a step id that a card of the flow already has does not clash", () => {
  const view = bank();
  view.nodes.push({ ...view.nodes[2], id: "account/ask", position: [600, 0] });
  const ids = nodesOf(view).map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length);
});
