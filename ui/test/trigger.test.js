import assert from "node:assert/strict";
import { test } from "node:test";
import { triggerFacts, triggerSummary } from "../src/trigger.js";

test("a blob trigger names the blob and its ETag", () => {
  const trigger = { kind: "blob", actor: null, detail: { url: "http://127.0.0.1:10000/devstoreaccount1/incoming/a/_READY",
    etag: "0x8DE1", container: "incoming", name: "a/_READY", size: 12, rule: 0, files: ["incoming/a/_READY"] } };
  assert.deepEqual(triggerFacts(trigger), [
    ["kind", "blob"], ["blob", "incoming/a/_READY"], ["ETag", "0x8DE1"],
    ["URL", "http://127.0.0.1:10000/devstoreaccount1/incoming/a/_READY"], ["size", "12 bytes"], ["rule", "0"],
    ["files", '["incoming/a/_READY"]'],
  ]);
  assert.equal(triggerSummary(trigger), "blob incoming/a/_READY (ETag 0x8DE1)");
});

test("a message, a schedule fire and an HTTP caller", () => {
  const message = { kind: "servicebus", detail: { queue: "job-requests", message_id: "m-1", idempotency_key: null } };
  assert.deepEqual(triggerFacts(message), [["kind", "servicebus"], ["queue", "job-requests"], ["message id", "m-1"]]);
  assert.equal(triggerSummary(message), "servicebus message m-1 on job-requests");
  const fire = { kind: "schedule", detail: { scheduled_time: "2026-01-01T06:30:00+00:00", quartz_cron_expression: "0 30 6 * * ?",
    timezone_id: "Europe/Paris" } };
  assert.deepEqual(triggerFacts(fire), [["kind", "schedule"], ["fire time", "2026-01-01 06:30:00 UTC"],
    ["schedule", "0 30 6 * * ? in Europe/Paris"]]);
  assert.equal(triggerSummary(fire), "schedule fire time 2026-01-01 06:30:00 UTC");
  assert.deepEqual(triggerFacts({ kind: "http", detail: {}, actor: "ops@example.org" }),
    [["kind", "http"], ["caller", "ops@example.org"]]);
  assert.equal(triggerSummary({ kind: "http", detail: {} }), "http (caller not named)");
  assert.equal(triggerSummary({ kind: "http", detail: {}, actor: "ops" }), "http by ops");
  assert.deepEqual(triggerFacts({ kind: "cli", detail: {} }), [["kind", "cli"], ["caller", "not named (the request gave no actor)"]]);
});

test("tracking's shape (source, event id) reads the same; nothing is an unknown", () => {
  assert.deepEqual(triggerFacts({ kind: "blob", source: "http://x/incoming/a", actor: null, event_id: "0x1" }),
    [["kind", "blob"], ["source", "http://x/incoming/a"], ["ETag", "0x1"]]);
  assert.equal(triggerSummary({ kind: "blob", source: "http://x/incoming/a", event_id: "0x1" }), "blob http://x/incoming/a (ETag 0x1)");
  assert.deepEqual(triggerFacts(null), []);
  assert.equal(triggerSummary(undefined), "unknown");
  assert.deepEqual(triggerFacts({ kind: "file_arrival", detail: { url: "u", etag: "e" } }),
    [["kind", "file_arrival"], ["url", "u"], ["etag", "e"]]);
});
