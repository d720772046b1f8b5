// Event timestamps (ledger/complaints/timestamps.py): YYYY-MM-DDTHH:MM:SS[.mmm]Z, in UTC.

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z$/;

/** Milliseconds since the epoch, or null when ``text`` is not such a timestamp. */
export function parseTimestamp(text) {
  const m = typeof text === "string" ? TIMESTAMP.exec(text) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, Number(m[7] || 0));
  const dt = new Date(ms);
  if (dt.getUTCDate() !== d || dt.getUTCMonth() !== mo - 1 || h > 23 || mi > 59 || s > 59) {
    return null;
  }
  return ms;
}
