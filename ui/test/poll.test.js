import assert from "node:assert/strict";
import { test } from "node:test";
import { startPolling } from "../src/poll.js";

function manualTimer() {
  const pending = new Map();
  let next = 1;
  return {
    setTimeout(fn, ms) { pending.set(next, { fn, ms }); return next++; },
    clearTimeout(id) { pending.delete(id); },
    async fire() {
      const [[id, { fn }]] = pending.entries();
      pending.delete(id);
      await fn();
    },
    get size() { return pending.size; },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

test("polling stops by itself once the run is done", async () => {
  const timer = manualTimer();
  const states = [{ done: false }, { done: false }, { done: true }];
  const poll = startPolling({ load: async () => states.shift(), isDone: (v) => v.done, intervalMs: 1000, timer });
  await settle();
  assert.equal(timer.size, 1);
  await timer.fire();
  assert.equal(timer.size, 1);
  await timer.fire();
  assert.equal(poll.stopped, true);
  assert.equal(timer.size, 0);
  assert.equal(poll.rounds, 3);
});

test("a failed load keeps polling; stop() cancels the next round", async () => {
  const timer = manualTimer();
  const poll = startPolling({ load: async () => { throw new Error("down"); }, isDone: () => true, intervalMs: 5, timer });
  await settle();
  assert.equal(timer.size, 1);
  poll.stop();
  assert.equal(timer.size, 0);
});
