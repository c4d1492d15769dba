// The page's address lives in the URL fragment: `#/runs?job=x`, `#/runs/<run id>`, `#/jobs`,
// `#/jobs/<job id>`. A `key=` in the fragment is the function key: taken once, then removed from the URL.

export function parseHash(hash) {
  const raw = String(hash || "").replace(/^#/, "");
  const [pathPart, queryPart = ""] = raw.split("?", 2);
  const params = new URLSearchParams(queryPart);
  const key = params.get("key");
  params.delete("key");
  const segments = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(params.entries());
  return { route: routeOf(segments), query, key: key || null };
}

function routeOf(segments) {
  const [first, id, ...rest] = segments;
  if (!first || first === "runs") return id ? { page: "run", runId: id, task: rest[1] || null } : { page: "runs" };
  if (first === "jobs") return id ? { page: "job", jobId: id } : { page: "jobs" };
  if (first === "validate") return { page: "validate" };
  return { page: "notfound", path: segments.join("/") };
}

/** The fragment for a page and its query (empty values left out), never with the key. */
export function hashFor(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
  const text = params.toString();
  const encoded = path.split("/").map((p) => encodeURIComponent(p)).join("/");
  return `#${encoded}${text ? `?${text}` : ""}`;
}

export function runHash(runId) {
  return hashFor(`/runs/${runId}`);
}
