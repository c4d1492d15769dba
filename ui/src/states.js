// How each run or task state looks: a colour class, a text label and a symbol, so states are told apart
// without colour too.

const STATES = {
  PENDING: { symbol: "○", tone: "waiting", label: "pending" },
  QUEUED: { symbol: "◌", tone: "waiting", label: "queued" },
  BLOCKED: { symbol: "◌", tone: "waiting", label: "blocked" },
  WAITING: { symbol: "◌", tone: "waiting", label: "waiting" },
  RUNNING: { symbol: "▶", tone: "running", label: "running" },
  RETRYING: { symbol: "↻", tone: "running", label: "retrying" },
  TERMINATING: { symbol: "■", tone: "running", label: "terminating" },
  SUCCESS: { symbol: "✓", tone: "success", label: "succeeded" },
  SUCCESS_WITH_FAILURES: { symbol: "✓!", tone: "warning", label: "succeeded with failures" },
  FAILED: { symbol: "✗", tone: "failed", label: "failed" },
  TIMEDOUT: { symbol: "⌛", tone: "failed", label: "timed out" },
  UPSTREAM_FAILED: { symbol: "⊘", tone: "failed", label: "upstream failed" },
  CANCELED: { symbol: "⊗", tone: "canceled", label: "canceled" },
  SKIPPED: { symbol: "»", tone: "canceled", label: "skipped" },
  EXCLUDED: { symbol: "–", tone: "canceled", label: "excluded" },
};

export const RUN_STATES = [
  "PENDING", "QUEUED", "RUNNING", "SUCCESS", "SUCCESS_WITH_FAILURES", "FAILED", "TIMEDOUT", "CANCELED", "SKIPPED",
];

const REPAIRABLE = new Set(["FAILED", "TIMEDOUT", "CANCELED", "UPSTREAM_FAILED"]);

export function stateLook(state) {
  const key = String(state || "PENDING").toUpperCase();
  return STATES[key] || { symbol: "?", tone: "unknown", label: key.toLowerCase() };
}

/** Would a repair without a task list rerun this task (docs/api.md: failed, timed out, canceled, upstream). */
export function isRepairable(state) {
  return REPAIRABLE.has(String(state || "").toUpperCase());
}
