// The runs list's filters as the API's query (job, status, from, to, limit, continuation). The API has no
// trigger filter, so the trigger kind filters the rows of each page.

export const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400 };
export const TRIGGER_KINDS = ["http", "cli", "blob", "servicebus", "schedule", "repair"];

export function listQuery(filters, nowMs, continuation) {
  const query = { limit: String(filters.limit || 50) };
  if (filters.job) query.job = filters.job;
  if (filters.status) query.status = filters.status;
  const seconds = RANGES[filters.range || "7d"];
  if (seconds) {
    query.from = new Date(nowMs - seconds * 1000).toISOString();
    query.to = new Date(nowMs + 60 * 1000).toISOString();
  }
  if (continuation) query.continuation = continuation;
  return query;
}

export function filterRows(rows, filters) {
  const list = Array.isArray(rows) ? rows : [];
  if (!filters.trigger) return list;
  return list.filter((row) => String(row.trigger_kind || "").toLowerCase() === filters.trigger);
}

/** Filters from the page's fragment query (unknown values dropped). */
export function filtersFrom(query) {
  const range = Object.hasOwn(RANGES, query.range) ? query.range : "7d";
  return {
    job: query.job || "",
    status: query.status || "",
    trigger: TRIGGER_KINDS.includes(query.trigger) ? query.trigger : "",
    range,
  };
}
