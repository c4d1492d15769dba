// The page's side of the layout worker: one promise per request; without workers, the same layout inline.
import { layoutDag } from "./dag.js";

export function layoutClient(makeWorker) {
  let worker = null;
  let next = 1;
  const waiting = new Map();
  function start() {
    try {
      worker = makeWorker();
    } catch {
      worker = null;
      return null;
    }
    worker.onmessage = (event) => {
      const { id, layout, error } = event.data;
      const pending = waiting.get(id);
      waiting.delete(id);
      if (pending) (error ? pending.reject(new Error(error)) : pending.resolve(layout));
    };
    worker.onerror = () => {
      for (const pending of waiting.values()) pending.fallback();
      waiting.clear();
      worker = null;
    };
    return worker;
  }
  return function layout(model) {
    if (!worker && !start()) return Promise.resolve(layoutDag(model));
    const id = next++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject, fallback: () => resolve(layoutDag(model)) });
      worker.postMessage({ id, model });
    });
  };
}
