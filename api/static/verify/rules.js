// The domain's rulebook (rules.json, generated from ledger/complaints) and its compiled checks.
//
// rules.json is built by scripts/build_verify_rules.py from the Python domain (vocab.py,
// states.py, payloads.py, playbooks.py, events.py): event types, statuses, roles, the
// transition table, payload specs, money units and kinds, which steps may be rated, and the
// service playbooks. The modules that check events keep only the checks that are code; every
// table comes from here, so the browser and Python verifiers cannot drift. The rules are loaded
// once (loadRules) before any proof is checked; verifying a dropped bundle then needs no further
// request.

import { canonicalJson, isObject } from "./json.js";
import { parseTimestamp } from "./timestamps.js";

const RULES_FORMAT = 2;
let RULES = null;
let COMPILED = null; // {publicFields, bodyFields, actorId, hash}
export let STATUSES = [];
export let ROLES = [];
export let EVENT_TYPES = [];
export let SIGNED_EVENTS = [];

/**
 * Load the rulebook: by default rules.json beside this module (same origin), or a rules object
 * already at hand. Throws Error when it cannot be read or has another format.
 */
export async function loadRules(source = new URL("./rules.json", import.meta.url)) {
  let rules = source;
  if (typeof source === "string" || source instanceof URL) {
    const resp = await fetch(source, { credentials: "omit", cache: "no-cache" });
    if (!resp.ok) throw new Error(`rules.json: HTTP ${resp.status}`);
    rules = await resp.json();
  }
  if (!isObject(rules) || rules.format !== RULES_FORMAT)
    throw new Error(`rules.json: expected format ${RULES_FORMAT}`);
  // Format 2 added the playbooks and the compensation kinds; without them the new steps'
  // guards would pass unchecked, so a rulebook lacking them is refused, not half-used.
  const book = rules.playbooks;
  if (
    !isObject(book) ||
    !isObject(book.steps) ||
    typeof book.identity_step !== "string" ||
    !["identity_first", "confirming_steps", "after_decision_steps", "untimed_categories"].every(
      (name) => Array.isArray(book[name]),
    ) ||
    !Array.isArray(rules.money?.in_kind_kinds) ||
    typeof rules.money.in_kind_method !== "string" ||
    typeof rules.money.default_kind !== "string"
  )
    throw new Error("rules.json: the playbooks or the compensation kinds are missing");
  // Without it a signature made before a letter was recorded would be refused: the browser
  // would disagree with the Python verifiers (events.context_heads).
  if (!Array.isArray(rules.context_skippable_events))
    throw new Error("rules.json: context_skippable_events is missing");
  const fields = (specs) =>
    Object.fromEntries(
      Object.entries(specs).map(([type, spec]) => [type, compileFields(rules, spec)]),
    );
  COMPILED = {
    publicFields: fields(rules.public_fields),
    bodyFields: fields(rules.body_fields),
    actorId: new RegExp(rules.envelope.actor_id),
    hash: new RegExp(rules.envelope.hash),
  };
  STATUSES = rules.statuses;
  ROLES = rules.roles;
  EVENT_TYPES = rules.event_types;
  SIGNED_EVENTS = rules.signed_events;
  RULES = rules;
  return rules;
}

export const rulesLoaded = () => RULES !== null;

/** The loaded rulebook; throws Error before loadRules. */
export function rulebook() {
  if (!RULES) throw new Error("the verification rules are not loaded (call loadRules first)");
  return RULES;
}

/** The rulebook's compiled checks: payload field validators (name -> [required, valid]) per
 * event type, and the actor id and hash patterns of the envelope. */
export function compiled() {
  rulebook();
  return COMPILED;
}

// --- payload checks compiled from their descriptions -------------------------------------------

/** A validator from its description in rules.json (payloads.describe on the Python side). */
function compileCheck(rules, d) {
  switch (d.kind) {
    case "enum": {
      const values = rules.enums[d.enum];
      if (!Array.isArray(values)) throw new Error(`rules.json: no enum ${d.enum}`);
      return (v) => typeof v === "string" && values.includes(v);
    }
    case "pattern": {
      const re = new RegExp(d.pattern);
      return (v) => typeof v === "string" && re.test(v);
    }
    case "text":
      // Lengths in code points, as Python's len().
      return (v) => typeof v === "string" && v.trim().length > 0 && [...v].length <= d.max_length;
    case "timestamp":
      return (v) => parseTimestamp(v) !== null;
    case "amount": {
      const re = new RegExp(d.pattern);
      return (v) => typeof v === "string" && re.test(v) && !/^0(\.0+)?$/.test(v);
    }
    case "int":
      return (v) => Number.isSafeInteger(v) && v >= d.min && v <= d.max;
    case "bool":
      return (v) => v === true || v === false;
    case "list": {
      const item = compileCheck(rules, d.items);
      return (v) =>
        Array.isArray(v) &&
        v.length >= d.min_length &&
        v.length <= d.max_length &&
        v.every(item) &&
        (!d.unique || new Set(v.map((x) => canonicalJson(x))).size === v.length) &&
        (!d.sorted || v.join("\n") === [...v].sort().join("\n"));
    }
    case "nullable": {
      const inner = compileCheck(rules, d.inner);
      return (v) => v === null || inner(v);
    }
    case "object": {
      const spec = compileFields(rules, d.fields);
      return (v) => fieldsValid(v, spec, d.closed);
    }
    default:
      throw new Error(`rules.json: unknown check ${String(d.kind)}`);
  }
}

// name -> [required, validator]
function compileFields(rules, fields) {
  return Object.fromEntries(
    Object.entries(fields).map(([name, f]) => [name, [f.required, compileCheck(rules, f.check)]]),
  );
}

function fieldsValid(obj, spec, closed) {
  if (!isObject(obj)) return false;
  for (const [name, [required, valid]] of Object.entries(spec)) {
    if (name in obj ? !valid(obj[name]) : required) return false;
  }
  return !closed || Object.keys(obj).every((name) => Object.hasOwn(spec, name));
}
