// Times and durations for people, with the clock injected so tests need no real time.

export function parseTime(value) {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hrs = Math.floor(m / 60);
  return `${hrs}h ${m % 60}m`;
}

/** Seconds between two ISO times; an open end runs to `now` (milliseconds). */
export function elapsed(start, end, now) {
  const a = parseTime(start);
  if (a === null) return null;
  const b = parseTime(end) ?? now;
  return b === null || b === undefined ? null : (b - a) / 1000;
}

export function shortTime(value) {
  const t = parseTime(value);
  if (t === null) return value ? String(value) : "";
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}
