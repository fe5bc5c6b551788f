// The part of anywidget's model the canvas uses (get, set, save_changes, on, off, send), kept in
// step with a server's state: the designer's web page drives the canvas through one of these.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export function createModel(post) {
  const state = {};
  const listeners = new Map();
  const dirty = new Set();

  function emit(name) {
    for (const callback of listeners.get(`change:${name}`) || []) callback();
  }

  // A state from the server: every trait that changed tells its listeners.
  function apply(next) {
    for (const [name, value] of Object.entries(next || {})) {
      if (!same(state[name], value)) {
        state[name] = value;
        emit(name);
      }
    }
  }

  return {
    apply,
    get: (name) => state[name],
    set(name, value) {
      state[name] = value;
      dirty.add(name);
      emit(name);
    },
    save_changes() {
      const changes = {};
      for (const name of dirty) changes[name] = state[name];
      dirty.clear();
      return post("/traits", changes).then(apply);
    },
    on(event, callback) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(callback);
    },
    off(event, callback) {
      if (!event) listeners.clear();
      else if (!callback) listeners.delete(event);
      else listeners.get(event)?.delete(callback);
    },
    send: (content) => post("/request", content).then(apply),
  };
}

