import assert from "node:assert/strict";
import { test } from "node:test";
import { layoutDag } from "../src/dag.js";
import { layoutClient } from "../src/layout-client.js";

const MODEL = { nodes: [{ key: "a" }, { key: "b" }], edges: [{ from: "a", to: "b", label: "" }] };

function fakeWorker() {
  const worker = {
    posted: [],
    postMessage(message) {
      this.posted.push(message);
      queueMicrotask(() => worker.onmessage({ data: { id: message.id, layout: layoutDag(message.model) } }));
    },
  };
  return worker;
}

test("layouts come back from the worker, one answer per request", async () => {
  const worker = fakeWorker();
  const layout = layoutClient(() => worker);
  const [first, second] = await Promise.all([layout(MODEL), layout(MODEL)]);
  assert.deepEqual(worker.posted.map((m) => m.id), [1, 2]);
  assert.deepEqual(first, layoutDag(MODEL));
  assert.deepEqual(second.nodes.map((n) => n.key), ["a", "b"]);
});

test("without workers the layout is made inline; a crashed worker falls back too", async () => {
  const inline = layoutClient(() => { throw new Error("no Worker here"); });
  assert.deepEqual(await inline(MODEL), layoutDag(MODEL));
  const crashing = { postMessage() { queueMicrotask(() => crashing.onerror(new Error("boom"))); } };
  assert.deepEqual(await layoutClient(() => crashing)(MODEL), layoutDag(MODEL));
});
