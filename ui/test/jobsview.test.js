import assert from "node:assert/strict";
import { test } from "node:test";
import { fireTimes, recentResults, scheduleText } from "../src/jobsview.js";

test("a schedule reads as its expression, its zone and whether it is paused", () => {
  assert.equal(scheduleText({ quartz_cron_expression: "0 30 6 * * ?", timezone_id: "Europe/Paris", pause_status: "UNPAUSED" }),
    "0 30 6 * * ? in Europe/Paris");
  assert.equal(scheduleText({ quartz_cron_expression: "0 0 * * * ?", pause_status: "PAUSED" }), "0 0 * * * ? in UTC (paused)");
  assert.equal(scheduleText(null), "");
  assert.equal(scheduleText({}), "");
});

test("next fire times are the API's, in UTC, or say why there are none", () => {
  const schedule = { quartz_cron_expression: "0 0 * * * ?" };
  assert.deepEqual(fireTimes({ schedule, next_fire_times: ["2026-01-01T11:00:00+00:00", "2026-01-01T12:00:00+00:00"] }),
    { times: ["2026-01-01 11:00:00 UTC", "2026-01-01 12:00:00 UTC"], note: "" });
  assert.deepEqual(fireTimes({ schedule: null, next_fire_times: [] }), { times: [], note: "no schedule" });
  assert.deepEqual(fireTimes({ schedule: { ...schedule, pause_status: "PAUSED" }, next_fire_times: [] }),
    { times: [], note: "paused: no fires" });
  assert.deepEqual(fireTimes({ schedule, next_fire_times: [] }), { times: [], note: "fires no more" });
  assert.deepEqual(fireTimes({ schedule }), { times: [], note: "fires no more" });
});

test("recent results: the newest n runs and a tally in words", () => {
  const runs = [
    { run_id: "r6", state: "FAILED" }, { run_id: "r5", state: "SUCCESS" }, { run_id: "r4", state: "SUCCESS" },
    { run_id: "r3", state: "CANCELED" }, { run_id: "r2", state: "FAILED" }, { run_id: "r1", state: "SUCCESS" },
  ];
  const recent = recentResults(runs, 5);
  assert.deepEqual(recent.items.map((i) => i.runId), ["r6", "r5", "r4", "r3", "r2"]);
  assert.equal(recent.text, "2 of 5 succeeded · 2 failed · 1 canceled");
  assert.equal(recentResults([{ run_id: "a", state: "SUCCESS" }]).text, "1 of 1 succeeded");
  assert.deepEqual(recentResults(undefined), { items: [], text: "no runs yet" });
});
