// Event envelopes (ledger/complaints/events.py): the RFC 8785 JSON of one log entry, its
// fields, its position in a chain, its actor and its public payload.

import { fail } from "./errors.js";
import { isObject, parseCanonical } from "./json.js";
import { checkPublic } from "./payloads.js";
import { parseReference } from "./reference.js";
import { compiled, EVENT_TYPES, ROLES, rulebook, SIGNED_EVENTS } from "./rules.js";
import { parseTimestamp } from "./timestamps.js";

const LOG_ORIGIN = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** Parse and validate one event leaf (RFC 8785 text of the envelope). Throws VerifyError. */
export function parseEnvelope(leafText) {
  const data = parseCanonical(leafText);
  const E = rulebook().envelope;
  const { hash: HEX32, actorId: ACTOR_ID } = compiled();
  if (!isObject(data)) fail("envelope_not_object");
  if (Object.keys(data).sort().join() !== E.fields.join()) fail("envelope_fields");
  if (data.v !== E.version) fail("envelope_version");
  if (typeof data.log !== "string" || !LOG_ORIGIN.test(data.log))
    fail("envelope_field", { field: "log" });
  if (!EVENT_TYPES.includes(data.type)) fail("envelope_type", { type: String(data.type) });
  if (!Number.isSafeInteger(data.seq) || data.seq < 0 || data.seq > E.max_seq)
    fail("envelope_field", { field: "seq" });
  if (data.prev !== null && !(typeof data.prev === "string" && HEX32.test(data.prev)))
    fail("envelope_field", { field: "prev" });
  if (data.complaint !== null) {
    let canonical = null;
    try {
      canonical = parseReference(data.complaint);
    } catch {
      /* reported below */
    }
    if (canonical !== data.complaint) fail("envelope_field", { field: "complaint" });
  }
  const starts = data.type === "received" || data.type === "officer_key_registered";
  if (starts && (data.complaint !== null || data.seq !== 0 || data.prev !== null))
    fail("envelope_position");
  if (
    data.type === "officer_key_revoked" &&
    (data.complaint !== null || data.seq !== 1 || data.prev === null)
  )
    fail("envelope_position");
  if (
    !starts &&
    data.type !== "officer_key_revoked" &&
    (data.complaint === null || data.seq < 1 || data.prev === null)
  )
    fail("envelope_position");
  const atMs = parseTimestamp(data.at);
  if (atMs === null) fail("envelope_field", { field: "at" });
  if (typeof data.commitment !== "string" || !HEX32.test(data.commitment))
    fail("envelope_field", { field: "commitment" });
  checkPublic(data.type, data.public);
  const actor = data.actor;
  if (!isObject(actor) || Object.keys(actor).sort().join() !== "id,role")
    fail("envelope_field", { field: "actor" });
  if (!ROLES.includes(actor.role)) fail("envelope_field", { field: "actor.role" });
  if (typeof actor.id !== "string" || !ACTOR_ID.test(actor.id))
    fail("envelope_field", { field: "actor.id" });
  if (actor.role === "customer" && actor.id !== E.customer_id)
    fail("envelope_field", { field: "actor.id" });
  // The holder of the signing key records a signed event: officers, and for the vault's
  // payouts the payout worker (rules.signer_roles).
  if (
    SIGNED_EVENTS.includes(data.type) &&
    (!rulebook().signer_roles[data.type].includes(actor.role) ||
      actor.id !== data.public.signature.key_id)
  )
    fail("signer_mismatch");
  if (rulebook().officer_key_events.includes(data.type) && actor.role !== "admin")
    fail("envelope_field", { field: "actor.role" });
  return { ...data, atMs };
}
