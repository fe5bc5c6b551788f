// A fake anywidget model around the built canvas, for trying it in a plain browser.
//
// Query string: ?view=NAME loads NAME.json next to this page (?view=views/big200 for a file in
// a views/ folder served beside it); ?theme=dark sets
// JupyterLab-like dark variables; ?bundle=URL loads another build; ?height=PX sets the trait.
// Messages the canvas sends are kept in window.sent; window.model plays Python
// (model.set("view", ...) then model.fire("view") as if the kernel had changed it).

const params = new URLSearchParams(location.search);
if (params.get("theme") === "dark") document.body.classList.add("dark");

class FakeModel {
  constructor(traits) {
    this.traits = { ...traits };
    this.handlers = new Map();
    this.saves = 0;
  }
  get(name) {
    return this.traits[name];
  }
  set(name, value) {
    const changed = this.traits[name] !== value;
    this.traits[name] = value;
    if (changed) this.fire(name);
  }
  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(handler);
  }
  off(event, handler) {
    if (!event) this.handlers.clear();
    else if (!handler) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(handler);
  }
  fire(name) {
    for (const handler of this.handlers.get(`change:${name}`) || []) handler();
  }
  send(content) {
    window.sent.push(content);
    log(`sent ${JSON.stringify(content)}`);
  }
  save_changes() {
    this.saves += 1;
    log(`saved selected=${JSON.stringify(this.traits.selected)}`);
  }
}

function log(line) {
  const box = document.getElementById("log");
  box.textContent = `${line}\n${box.textContent}`.slice(0, 4000);
}

async function loadView(name) {
  const response = await fetch(`./${name}.json`);
  if (!response.ok) throw new Error(`${name}.json: HTTP ${response.status}`);
  return response.json();
}

const name = params.get("view") || "acme";
const bundle = params.get("bundle") || "../../jaxl_designer/static/canvas.js";
const [view, widget] = await Promise.all([loadView(name), import(bundle)]);

window.sent = [];
window.model = new FakeModel({
  view,
  selected: params.get("selected") || "",
  message: { text: `Loaded ${name}.json`, error: false, serial: 0 },
  height: Number(params.get("height")) || 620,
});
window.cleanup = widget.default.render({ model: window.model, el: document.getElementById("widget") });
window.ready = true;
