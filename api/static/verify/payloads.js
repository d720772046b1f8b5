// Event payloads (ledger/complaints/payloads.py): public fields closed, bodies open; money;
// officer key limits; and a disclosed body against its envelope (mirrored fields, signing
// context).
//
// The field specs come from the rulebook (rules.js); these are the checks that are code.

import { hexencode, sha256, utf8 } from "./bytes.js";
import { fail } from "./errors.js";
import { canonicalJson, isObject } from "./json.js";
import { compiled, rulebook } from "./rules.js";

function checkFields(obj, spec, closed, code) {
  if (!isObject(obj)) fail(`${code}_not_object`);
  for (const [name, [required, valid]] of Object.entries(spec)) {
    if (name in obj) {
      if (!valid(obj[name])) fail(`${code}_value`, { field: name });
    } else if (required) {
      fail(`${code}_missing`, { field: name });
    }
  }
  if (closed) {
    for (const name of Object.keys(obj))
      if (!Object.hasOwn(spec, name)) fail(`${code}_unknown`, { field: name });
  }
}

function checkMoney(o, required) {
  const {
    minor_units: minorUnits,
    default_minor_units: defaultMinorUnits,
    in_kind_kinds: inKindKinds,
    in_kind_method: inKindMethod,
    default_kind: defaultKind,
  } = rulebook().money;
  // Discounts and free services are given in kind, and only they are (payloads.IN_KIND).
  const kind = "kind" in o ? o.kind : defaultKind;
  if ((o.method === inKindMethod) !== inKindKinds.includes(kind)) fail("bad_money");
  const units = ["currency", "asset"].filter((k) => k in o);
  if (!("amount" in o)) {
    if (required || units.length) fail("bad_money");
    return;
  }
  if (units.length !== 1) fail("bad_money");
  if (o.method === "on_chain" && !("asset" in o)) fail("bad_money");
  if ((o.method === "bank_transfer" || o.method === "card_refund") && "asset" in o)
    fail("bad_money");
  if ("currency" in o) {
    const decimals = (o.amount.split(".")[1] || "").length;
    const allowed = Object.hasOwn(minorUnits, o.currency)
      ? minorUnits[o.currency]
      : defaultMinorUnits;
    if (decimals > allowed) fail("bad_money");
  }
}

/** payloads._check_on_chain: on-chain details only for on-chain payments, base units exact. */
function checkOnChain(body) {
  const given = rulebook().money.on_chain_body_fields.filter((k) => k in body);
  if (!given.length) return;
  if (body.method !== "on_chain") fail("bad_money");
  if ("amount_base_units" in body !== "decimals" in body)
    fail("body_missing", { field: "decimals" in body ? "amount_base_units" : "decimals" });
  if ("amount_base_units" in body) {
    // amount × 10^decimals, exactly, in decimal strings (no floating point).
    const [whole, frac = ""] = body.amount.split(".");
    const digits = frac.replace(/0+$/, "");
    if (digits.length > body.decimals) fail("bad_money");
    const scaled = BigInt(whole + digits.padEnd(body.decimals, "0"));
    if (scaled !== BigInt(body.amount_base_units)) fail("bad_money");
  }
}

/** The members of an object the rulebook describes with ``keys`` and ``values``
 * (payloads.unit_amounts): compiled as "an object", its members are checked here. */
function checkMembers(obj, d, field) {
  if (d.keys?.kind !== "pattern" || d.values?.kind !== "amount")
    throw new Error(`rules.json: ${field} has members this verifier cannot check`);
  const key = new RegExp(d.keys.pattern);
  const value = new RegExp(d.values.pattern);
  const members = Object.entries(obj);
  if (members.length > d.max_size) fail("public_value", { field });
  for (const [name, v] of members) {
    // An amount is positive (rules.js compiles "amount" the same way).
    if (!key.test(name) || typeof v !== "string" || !value.test(v) || /^0(\.0+)?$/.test(v))
      fail("public_value", { field: `${field}.${name}` });
  }
}

/** payloads.officer_limits: amounts and thresholds per unit; a threshold only in a unit the
 * key may offer or pay in. The object's shape was checked with the other public fields. */
function checkLimits(limits) {
  const spec = rulebook().public_fields.officer_key_registered.limits.check.fields;
  for (const name of ["amounts", "dual_control_above"]) {
    if (name in limits) checkMembers(limits[name], spec[name].check, `limits.${name}`);
  }
  // One spelling of "no threshold": the field left out, never an empty object.
  const dual = limits.dual_control_above;
  if (dual !== undefined && Object.keys(dual).length === 0)
    fail("public_value", { field: "limits.dual_control_above" });
  for (const unit of Object.keys(dual ?? {})) {
    if (!Object.hasOwn(limits.amounts, unit))
      fail("public_value", { field: `limits.dual_control_above.${unit}` });
  }
}

/** payloads.validate_public: only the listed, non-personal fields, each valid. */
export function checkPublic(type, pub) {
  checkFields(pub, compiled().publicFields[type], true, "public");
  if (type === "escalated") {
    if ((pub.level === "specialist") !== "specialism" in pub)
      fail("public_value", { field: "specialism" });
    if (pub.level === "bot") fail("public_value", { field: "level" });
  }
  if (rulebook().money.events.includes(type)) checkMoney(pub, false);
  if (type === "target_set" && pub.target_minutes > pub.limit_minutes) fail("target_above_limit");
  // A confirming step ends a wait; it does not state another one.
  if (type === "playbook_step" && "confirmation" in pub && "confirm_by" in pub)
    fail("public_value", { field: "confirm_by" });
  if (type === "officer_key_registered" && "limits" in pub) checkLimits(pub.limits);
}

/** payloads.validate_body: the fields a disclosed body of this type needs. */
export function checkBody(type, body) {
  checkFields(body, compiled().bodyFields[type] || {}, false, "body");
  if (type === "info_received" && !("text" in body) && !("attachments" in body))
    fail("body_missing", { field: "text" });
  if (type === "decision" && body.outcome !== "rejected" && !("remedy" in body))
    fail("body_missing", { field: "remedy" });
  if (rulebook().money.events.includes(type)) checkMoney(body, true);
  if (type === "compensation_paid") {
    if (body.method === "on_chain" && !("tx_hash" in body))
      fail("body_missing", { field: "tx_hash" });
    if (body.method !== "on_chain" && !("payment_reference" in body))
      fail("body_missing", { field: "payment_reference" });
    checkOnChain(body);
  }
  if (type === "compensation_offered") {
    checkOnChain(body);
    // A vault offer states all of its terms (payloads.VAULT_TERMS).
    const terms = rulebook().money.vault_terms;
    const given = terms.filter((name) => name in body);
    if (given.length && given.length !== terms.length)
      fail("body_missing", { field: terms.find((name) => !(name in body)) });
  }
}

/** payloads.check_consistency: public fields that repeat signed body fields (rules.mirrored). */
export function checkConsistency(env, body) {
  for (const name of rulebook().mirrored[env.type] || []) {
    if (name in env.public && canonicalJson(env.public[name]) !== canonicalJson(body[name] ?? null))
      fail("public_body_mismatch", { field: name });
  }
  if (rulebook().money.events.includes(env.type)) {
    // The leaf states the kind of redress whenever it is not money (the state reads it).
    const { default_kind: defaultKind } = rulebook().money;
    if ((env.public.kind ?? defaultKind) !== (body.kind ?? defaultKind))
      fail("public_body_mismatch", { field: "kind" });
    const units = (o) => ["currency", "asset"].filter((k) => k in o).join();
    const pu = units(env.public);
    if (pu && "amount" in env.public && pu !== units(body))
      fail("public_body_mismatch", { field: "currency/asset" });
  }
}

/** payouts.py: the 32-byte ABI word of a uint256 (decimal string or number) or an address. */
function abiWord(value) {
  const out = new Uint8Array(32);
  const hex = typeof value === "string" && value.startsWith("0x")
    ? value.slice(2).padStart(64, "0")
    : BigInt(value).toString(16).padStart(64, "0");
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** payouts.terms_commitment: SHA-256(abi.encode(chainId, vault, token, amount)), hex. */
async function termsCommitment(body) {
  const token = body.token ?? "0x" + "00".repeat(20);
  const words = [body.chain_id, body.vault, token, body.amount_base_units].map(abiWord);
  const data = new Uint8Array(128);
  words.forEach((w, i) => data.set(w, 32 * i));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** payloads.check_consistency for vault offers and acceptances (needs SHA-256: async). */
export async function checkPayoutTerms(env, body) {
  if (env.type === "compensation_offered") {
    if ("payout_terms" in env.public !== "vault" in body)
      fail("public_body_mismatch", { field: "payout_terms" });
    if ("payout_terms" in env.public && env.public.payout_terms !== (await termsCommitment(body)))
      fail("public_body_mismatch", { field: "payout_terms" });
  }
  if (env.type === "compensation_accepted" && "payout" in env.public !== "recipient" in body)
    fail("public_body_mismatch", { field: "payout" });
}

/** payloads.check_message_text: a message's body holds the very text whose SHA-256 (of its
 * UTF-8 bytes) the leaf states, so the log proves what the customer was told. */
export async function checkMessageText(env, body) {
  if (env.type !== "message_sent") return;
  const text = body.text;
  const digest = typeof text === "string" ? hexencode(await sha256(utf8(text))) : null;
  if (digest === null || digest !== env.public.text_sha256) fail("message_text_mismatch");
}

/** The context a signed body names (log, complaint, prev, type) is its envelope's
 * (events.check_context); with the chain known, ``heads`` are the heads its prev may also
 * name: ones only letters were recorded after (contextHeads). */
export function checkContext(env, body, heads = null) {
  const ctx = body.context;
  if (!isObject(ctx)) fail("context_missing");
  const expected = { log: env.log, complaint: env.complaint, prev: env.prev, type: env.type };
  for (const [name, value] of Object.entries(expected)) {
    if (ctx[name] === value) continue;
    if (name === "prev" && heads && typeof ctx.prev === "string" && heads.includes(ctx.prev))
      continue;
    fail("context_mismatch", { field: name });
  }
}

/** events.context_heads: the heads a signed body's context may name for the step after
 * ``chain`` ([leaf hash hex, type] pairs, in order): the head, and the head before each step
 * of the unbroken run of letters delivered (rules.context_skippable_events) ending at it. */
export function contextHeads(chain) {
  if (!chain.length) return [];
  const skippable = rulebook().context_skippable_events;
  const heads = [chain[chain.length - 1][0]];
  for (let i = chain.length - 1; i > 0 && skippable.includes(chain[i][1]); i--)
    heads.push(chain[i - 1][0]);
  return heads;
}
