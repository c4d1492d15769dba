// Lays out a DAG off the page's main thread, so a 1,000-task run does not freeze the tab while dagre works.
import { layoutDag } from "./dag.js";

self.onmessage = (event) => {
  const { id, model } = event.data;
  try {
    self.postMessage({ id, layout: layoutDag(model) });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
