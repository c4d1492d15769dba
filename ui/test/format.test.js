import assert from "node:assert/strict";
import { test } from "node:test";
import { duration, elapsed, shortTime } from "../src/format.js";

test("durations", () => {
  assert.equal(duration(0), "0s");
  assert.equal(duration(59.6), "1m 0s");
  assert.equal(duration(3725), "1h 2m");
  assert.equal(duration(null), "");
});

test("an open run's elapsed time runs to the injected now", () => {
  const now = Date.parse("2026-01-01T00:01:30Z");
  assert.equal(elapsed("2026-01-01T00:00:00Z", null, now), 90);
  assert.equal(elapsed("2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", now), 10);
  assert.equal(elapsed(null, null, now), null);
});

test("times are shown in UTC, and what is not a time as it is", () => {
  assert.equal(shortTime("2026-01-01T10:11:12.345Z"), "2026-01-01 10:11:12 UTC");
  assert.equal(shortTime("soon"), "soon");
  assert.equal(shortTime(null), "");
});
