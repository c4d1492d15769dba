// Live updates: load, draw, wait, again, until the run says it is done or the page leaves it.
// The timer is injected so tests drive it without waiting.

export function startPolling({ load, isDone, intervalMs, timer = globalThis }) {
  let handle = null;
  let stopped = false;
  let rounds = 0;
  async function tick() {
    handle = null;
    if (stopped) return;
    rounds += 1;
    let value;
    try {
      value = await load();
    } catch {
      value = undefined;
    }
    if (stopped) return;
    if (value !== undefined && isDone(value)) {
      stopped = true;
      return;
    }
    handle = timer.setTimeout(tick, intervalMs);
  }
  tick();
  return {
    stop() {
      stopped = true;
      if (handle !== null) timer.clearTimeout(handle);
      handle = null;
    },
    get stopped() {
      return stopped;
    },
    get rounds() {
      return rounds;
    },
  };
}
