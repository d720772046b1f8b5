// The complaint state machine (ledger/complaints/states.py): the state after each event.
//
// The table (who may record what, from which status to which) is rules.transitions; the
// guards below are the rules the table cannot express (states.GUARDS), driven by its data.

import { fail } from "./errors.js";
import { isObject } from "./json.js";
import { rulebook } from "./rules.js";

/** An amount as compared between offer and payment: trailing zeros dropped, with its unit. */
function money(fields) {
  if (!isObject(fields) || !("amount" in fields)) return null;
  const [whole, frac = ""] = String(fields.amount).split(".");
  const f = frac.replace(/0+$/, "");
  const unit = "asset" in fields ? fields.asset : fields.currency;
  return { value: f ? `${whole}.${f}` : whole, unit, asset: "asset" in fields };
}
const sameMoney = (a, b) => a.value === b.value && a.unit === b.unit && a.asset === b.asset;

/** The state after one more event; throws VerifyError("rule_*"). Does not mutate ``state``. */
export function applyStep(state, env, leafHashHex) {
  const R = rulebook();
  const { type, public: pub } = env;
  const role = env.actor.role;
  const entry = { hash: leafHashHex, type, seq: env.seq };
  if (R.officer_key_events.includes(type)) fail("rule_not_complaint_event", { type });
  if (state === null) {
    if (type !== "received") fail("rule_not_started", { type });
    if (!R.start_roles.includes(role)) fail("rule_role", { role, type });
    if (pub.state !== "received")
      fail("rule_state_mismatch", { claimed: pub.state, target: "received" });
    return {
      status: "received",
      level: pub.level || R.initial_level,
      specialism: null,
      infoPending: false,
      holdingReplySent: false,
      outcome: null,
      offer: null,
      payments: [],
      reopenCount: 0,
      events: [entry],
      erased: [],
      rated: [],
    };
  }
  if (type === "received") fail("rule_already_started");
  const rule = R.transitions[type];
  if (!rule) fail("rule_transition", { type, status: state.status });
  if (!rule.roles.includes(role)) fail("rule_role", { role, type });
  const target = Object.hasOwn(rule.moves, state.status) ? rule.moves[state.status] : null;
  if (!target) fail("rule_transition", { type, status: state.status });
  if (pub.state !== target) fail("rule_state_mismatch", { claimed: pub.state, target });
  const typeOf = (h) => state.events.find((e) => e.hash === h)?.type;
  // Guards (states.GUARDS).
  if (type === "info_received" && !state.infoPending) fail("rule_info_not_requested");
  if (type === "escalated") {
    const rank = R.escalation_rank[pub.level];
    const current = R.escalation_rank[state.level];
    const lateral = pub.level === "specialist" && (pub.specialism || null) !== state.specialism;
    if (rank === undefined || rank < current || (rank === current && !lateral))
      fail("rule_escalation_not_higher");
    if ((pub.level === "specialist") !== "specialism" in pub)
      fail("public_value", { field: "specialism" });
  }
  if (type === "holding_reply" && state.holdingReplySent) fail("rule_holding_reply_twice");
  if (type === "decision") {
    for (const ref of pub.evidence) {
      if (!R.evidence_events.includes(typeOf(ref))) fail("rule_evidence_unknown");
    }
  }
  if (type === "compensation_offered" && state.outcome === "rejected")
    fail("rule_offer_after_rejection");
  if (type === "compensation_paid") {
    const paid = money(pub);
    if (paid && state.offer && !sameMoney(paid, state.offer)) fail("rule_payment_mismatch");
  }
  if (type === "closed" && state.status === "compensation_offered" && pub.reason !== "offer_lapsed")
    fail("rule_offer_open");
  // A rating names one earlier step of a rateable type (rules.rateable_events), once; a
  // rating without `rates` was recorded before that rule and names no step.
  if (type === "rated" && pub.rates !== undefined) {
    const rated = state.events.find((e) => e.seq === pub.rates);
    if (!rated || !R.rateable_events.includes(rated.type))
      fail("rule_rating_target", { seq: pub.rates });
    if (state.rated.includes(pub.rates)) fail("rule_rating_duplicate", { seq: pub.rates });
  }
  if (type === "erased") {
    const targetType = typeOf(pub.erases);
    if (!targetType) fail("rule_erase_unknown");
    if (targetType === "erased") fail("rule_erase_unknown");
    if (state.erased.includes(pub.erases)) fail("rule_erase_twice");
  }
  // Effects (states.EFFECTS).
  const next = { ...state, status: target, events: [...state.events, entry] };
  switch (type) {
    case "info_requested":
      next.infoPending = true;
      break;
    case "info_received":
      next.infoPending = false;
      break;
    case "escalated":
      next.level = pub.level;
      next.specialism = pub.specialism || null;
      break;
    case "holding_reply":
      next.holdingReplySent = true;
      break;
    case "decision":
      next.outcome = pub.outcome;
      next.infoPending = false;
      break;
    case "compensation_offered":
      next.offer = money(pub);
      break;
    case "compensation_declined":
      next.offer = null;
      break;
    case "compensation_paid": {
      const paid = money(pub);
      next.offer = null;
      if (paid) next.payments = [...state.payments, paid];
      break;
    }
    case "reopened":
      Object.assign(next, {
        outcome: null,
        offer: null,
        infoPending: false,
        holdingReplySent: false,
      });
      next.reopenCount = state.reopenCount + 1;
      break;
    case "rated":
      if (pub.rates !== undefined) next.rated = [...state.rated, pub.rates];
      break;
    case "erased":
      next.erased = [...state.erased, pub.erases];
      break;
    default:
      break;
  }
  return next;
}
