// RFC 8785 (JCS) canonical JSON: event envelopes and bodies are hashed in this form.

import { fail } from "./errors.js";

// ECMAScript number and string serialisation is what RFC 8785 prescribes; keys are sorted by
// UTF-16 code units, which is what Array.prototype.sort does for strings.
export function canonicalJson(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) fail("not_canonical");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
}

/** Parse JSON text that must already be in RFC 8785 form (so hashes cannot be re-encoded). */
export function parseCanonical(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail("not_json");
  }
  if (canonicalJson(value) !== text) fail("not_canonical");
  return value;
}

/** A JSON object (not null, not an array). */
export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
