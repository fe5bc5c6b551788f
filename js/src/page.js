// The designer as a web page: the same canvas module, driven by the page's own server (see
// jaxl_designer/web/server.py) instead of a Jupyter kernel, over plain HTTP.
import canvas from "./index.jsx";
import { createModel } from "./model.js";

/** The height in px of what sits above the canvas on the page: the toolbar and the message line. */
const PAGE_CHROME = 64;

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
  // The canvas takes the window's height, less its toolbar and message line above it.
  const fit = () => model.set("height", Math.max(420, window.innerHeight - PAGE_CHROME));
  fit();
  window.addEventListener("resize", fit);
  canvas.render({ model, el });
}
