// The complaint state machine (ledger/complaints/states.py): the state after each event.
//
// The table (who may record what, from which status to which) is rules.transitions; the
// guards below are the rules the table cannot express (states.GUARDS), driven by its data,
// and the playbooks' order, confirmations and identity check come from rules.playbooks.

import { fail } from "./errors.js";
import { isObject } from "./json.js";
import { rulebook } from "./rules.js";
import { parseTimestamp } from "./timestamps.js";

/** An amount as compared between offer and payment: trailing zeros dropped, with its unit. */
function money(fields) {
  if (!isObject(fields) || !("amount" in fields)) return null;
  const [whole, frac = ""] = String(fields.amount).split(".");
  const f = frac.replace(/0+$/, "");
  const unit = "asset" in fields ? fields.asset : fields.currency;
  return { value: f ? `${whole}.${f}` : whole, unit, asset: "asset" in fields };
}
const sameMoney = (a, b) => a.value === b.value && a.unit === b.unit && a.asset === b.asset;

// The open or accepted offer, cleared once it is declined, paid or a new cycle starts.
const NO_OFFER = {
  offer: null,
  offerKind: null,
  offerNeedsIdentity: false,
  offerTerms: null, // a vault offer's payout_terms
  acceptedPayout: null, // the accepted vault offer's payout commitment
};

/** playbooks.states_wait: whether ``step`` is followed by a confirming step. */
function statesWait(book, category, step) {
  const steps = book.steps[category] || [];
  const i = steps.indexOf(step);
  return i >= 0 && i < steps.length - 1 && book.confirming_steps.includes(steps[i + 1]);
}

/** states._playbook_guard: the category's steps in order, each once per cycle. */
function checkPlaybookStep(book, state, pub) {
  const { step } = pub;
  const steps = book.steps[state.category] || [];
  if (!steps.includes(step))
    fail("rule_playbook_step_unknown", { step, category: state.category });
  if (step === book.identity_step) fail("rule_playbook_use_identity");
  const expected = state.playbook.length < steps.length ? steps[state.playbook.length] : null;
  if (step !== expected) {
    if (state.playbook.includes(step)) fail("rule_playbook_repeated", { step });
    fail("rule_playbook_order", { step, next: expected });
  }
  const confirming = book.confirming_steps.includes(step);
  const confirmation = pub.confirmation;
  if (confirming && confirmation === undefined) fail("rule_playbook_needs_confirmation", { step });
  if (!confirming && confirmation !== undefined) fail("rule_playbook_not_confirming", { step });
  if (confirmation === "lapsed" && state.confirmBy === null) fail("rule_confirmation_no_wait");
  if ("confirm_by" in pub && !statesWait(book, state.category, step))
    fail("rule_playbook_no_wait", { step });
  if (book.after_decision_steps.includes(step) && state.outcome === null)
    fail("rule_playbook_needs_decision", { step });
}

/** states.check_context: the rules that need the step's actor and time. */
function checkContext(state, env) {
  // Handlers claim for themselves; supervisors and the system assign and reassign.
  if (env.type === "assigned") {
    const { how, owner } = env.public;
    const role = env.actor.role;
    if (!(rulebook().assigner_roles[how] || []).includes(role))
      fail("rule_assigner_role", { role, how });
    if (how === "claim" && env.actor.id !== owner)
      fail("rule_claim_for_another", { actor: env.actor.id, owner });
    return;
  }
  // The payout worker (system) records only the vault's payouts.
  if (env.type === "compensation_paid") {
    if (env.actor.role === "system" && state.acceptedPayout === null)
      fail("rule_system_pays_vault_only");
    return;
  }
  if (env.type !== "playbook_step") return;
  const confirmation = env.public.confirmation;
  const role = env.actor.role;
  if (role === "customer" && confirmation !== "customer") fail("rule_customer_confirms_only");
  if (role === "system" && confirmation === "customer") fail("rule_system_confirms");
  // Instants, not strings: a wait stated with milliseconds compares with one without.
  if (
    confirmation === "lapsed" &&
    state.confirmBy !== null &&
    env.atMs < parseTimestamp(state.confirmBy)
  )
    fail("rule_confirmation_not_lapsed", { until: state.confirmBy, at: env.at });
}

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
      category: pub.category,
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
      identityVerified: false,
      playbook: [], // the playbook's steps done in this cycle, in order
      confirmBy: null, // the wait for the customer's confirmation, when stated
      targetSet: false,
      incident: null,
      npsGiven: false, // the customer's Net Promoter Score, once per complaint
      owner: null, // the pseudonym of whoever is responsible now (assigned steps)
      ...NO_OFFER,
    };
  }
  if (type === "received") fail("rule_already_started");
  const rule = R.transitions[type];
  if (!rule) fail("rule_transition", { type, status: state.status });
  if (!rule.roles.includes(role)) fail("rule_role", { role, type });
  const target = Object.hasOwn(rule.moves, state.status) ? rule.moves[state.status] : null;
  // A rule may name why it refuses a status (states.Rule.refused): a score before the closure.
  if (!target)
    fail(rule.refused ? `rule_${rule.refused.toLowerCase()}` : "rule_transition", {
      type,
      status: state.status,
    });
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
    const kind = "kind" in pub ? pub.kind : R.money.default_kind;
    if (state.offerKind !== null && kind !== state.offerKind)
      fail("rule_payment_kind", { kind, offered: state.offerKind });
    // A vault offer is paid by the vault, naming the accepted commitment; only it is.
    if ((pub.payout ?? null) !== state.acceptedPayout) fail("rule_payout_mismatch");
    const needsIdentity =
      R.playbooks.identity_first.includes(state.category) || state.offerNeedsIdentity;
    if (needsIdentity && !state.identityVerified) fail("rule_identity_not_verified");
  }
  if (type === "compensation_accepted") {
    if (state.offerTerms !== null && !("payout" in pub)) fail("rule_payout_address_required");
    if (state.offerTerms === null && "payout" in pub) fail("rule_payout_not_offered");
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
  if (type === "identity_verified" && state.identityVerified) fail("rule_identity_twice");
  if (type === "playbook_step") checkPlaybookStep(R.playbooks, state, pub);
  if (type === "target_set") {
    if (!R.playbooks.untimed_categories.includes(state.category))
      fail("rule_target_fixed", { category: state.category });
    if (state.targetSet) fail("rule_target_twice");
  }
  if (type === "incident_linked" && state.incident !== null)
    fail("rule_incident_twice", { incident: state.incident });
  // A message delivers the letter of a step already on the chain (its own seq is the length).
  if (type === "message_sent" && pub.for_seq >= state.events.length)
    fail("rule_message_for_seq", { seq: pub.for_seq });
  if (type === "nps_given" && state.npsGiven) fail("rule_nps_already_given");
  // An owner is claimed or assigned when there is none, and reassigned to someone else.
  if (type === "assigned") {
    if (pub.how === "reassign") {
      if (state.owner === null) fail("rule_not_owned");
      if (pub.owner === state.owner) fail("rule_same_owner", { owner: state.owner });
    } else if (state.owner !== null) fail("rule_already_owned", { owner: state.owner });
  }
  // After the guards, as states.step calls it after apply.
  checkContext(state, env);
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
      next.owner = null; // another queue: it waits there to be claimed
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
      next.offerKind = "kind" in pub ? pub.kind : R.money.default_kind;
      next.offerNeedsIdentity = pub.identity_required === true;
      next.offerTerms = pub.payout_terms ?? null;
      break;
    case "compensation_accepted":
      next.acceptedPayout = pub.payout ?? null;
      break;
    case "compensation_declined":
      Object.assign(next, NO_OFFER);
      break;
    case "compensation_paid": {
      const paid = money(pub);
      Object.assign(next, NO_OFFER);
      if (paid) next.payments = [...state.payments, paid];
      break;
    }
    case "reopened": {
      // A new cycle: the playbook starts again, a verified identity stays verified.
      const book = R.playbooks;
      const keepsIdentity = state.identityVerified && book.identity_first.includes(state.category);
      Object.assign(next, NO_OFFER, {
        outcome: null,
        infoPending: false,
        holdingReplySent: false,
        playbook: keepsIdentity ? [book.identity_step] : [],
        confirmBy: null,
        targetSet: false,
      });
      next.reopenCount = state.reopenCount + 1;
      break;
    }
    case "identity_verified": {
      const book = R.playbooks;
      next.identityVerified = true;
      if (
        book.identity_first.includes(state.category) &&
        !state.playbook.includes(book.identity_step)
      )
        next.playbook = [...state.playbook, book.identity_step];
      break;
    }
    case "playbook_step":
      next.playbook = [...state.playbook, pub.step];
      next.confirmBy = pub.confirm_by ?? null;
      break;
    case "target_set":
      next.targetSet = true;
      break;
    case "incident_linked":
      next.incident = pub.incident;
      break;
    case "rated":
      if (pub.rates !== undefined) next.rated = [...state.rated, pub.rates];
      break;
    case "erased":
      next.erased = [...state.erased, pub.erases];
      break;
    case "nps_given":
      next.npsGiven = true;
      break;
    case "assigned":
      next.owner = pub.owner;
      break;
    default:
      break;
  }
  return next;
}
