import assert from "node:assert/strict";
import { test } from "node:test";

import { createModel } from "../src/model.js";

function server(answers) {
  const posted = [];
  const post = (path, body) => {
    posted.push([path, body]);
    return Promise.resolve(answers[path]);
  };
  return { post, posted };
}

test("a state from the server tells only the traits that changed", () => {
  const model = createModel(server({}).post);
  const heard = [];
  model.on("change:view", () => heard.push("view"));
  model.on("change:selected", () => heard.push("selected"));
  model.apply({ view: { nodes: [] }, selected: "" });
  model.apply({ view: { nodes: [] }, selected: "main" });
  assert.deepEqual(heard, ["view", "selected", "selected"]);
  assert.equal(model.get("selected"), "main");
});

test("save_changes posts what the canvas set, then applies the answer", async () => {
  const { post, posted } = server({ "/traits": { selected: "order", message: { serial: 2 } } });
  const model = createModel(post);
  model.set("selected", "order");
  model.set("height", 700);
  await model.save_changes();
  assert.deepEqual(posted, [["/traits", { selected: "order", height: 700 }]]);
  assert.deepEqual(model.get("message"), { serial: 2 });
  await model.save_changes();
  assert.deepEqual(posted[1], ["/traits", {}]);
});

test("send posts a canvas request and the new view replaces the old", async () => {
  const view = { nodes: [{ id: "main" }] };
  const { post, posted } = server({ "/request": { view } });
  const model = createModel(post);
  let redrawn = 0;
  model.on("change:view", () => redrawn++);
  await model.send({ type: "undo" });
  assert.deepEqual(posted, [["/request", { type: "undo" }]]);
  assert.deepEqual(model.get("view"), view);
  assert.equal(redrawn, 1);
});

test("off forgets a listener", () => {
  const model = createModel(server({}).post);
  let heard = 0;
  const listener = () => heard++;
  model.on("change:view", listener);
  model.off("change:view", listener);
  model.apply({ view: 1 });
  assert.equal(heard, 0);
});
