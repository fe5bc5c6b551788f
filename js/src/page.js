// The designer as a web page: the same canvas module, driven by the page's own server (see
// jaxl_designer/web/server.py) instead of a Jupyter kernel, over plain HTTP.
import canvas from "./index.jsx";
import { createModel } from "./model.js";

async function postJson(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer.json();
}

export async function start(el) {
  const model = createModel(postJson);
  const answer = await fetch("/state");
  model.apply(await answer.json());
  model.set("height", Math.max(420, window.innerHeight - 8));
  canvas.render({ model, el });
}
