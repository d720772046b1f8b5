// Officer keys (ledger/complaints/officers.py): the registry folded from the log's key entries,
// whether a key could act in a role at a given time, and whether a signed step keeps within
// its keys' limits (amounts, units, categories, dual control: officers.check_signed_step).

import { hexdecode, hexencode, sha256 } from "./bytes.js";
import { fail } from "./errors.js";
import { ed25519Verify, importEd25519 } from "./note.js";
import { rulebook } from "./rules.js";
import { parseTimestamp } from "./timestamps.js";

/** The registration's limits (validated with its leaf: payloads.officer_limits), or null. */
function parseLimits(limits) {
  if (limits === undefined) return null;
  return {
    amounts: { ...limits.amounts },
    categories: limits.categories ?? null, // null: every category
    dualControlAbove: { ...(limits.dual_control_above ?? {}) },
  };
}

/** Compare two amounts (payloads.AMOUNT strings) by value, exactly: -1, 0 or 1. */
export function compareAmounts(a, b) {
  const [aw, af = ""] = a.split(".");
  const [bw, bf = ""] = b.split(".");
  // One spelling per whole part (no leading zeros): longer is larger, else compare digits.
  if (aw.length !== bw.length) return aw.length < bw.length ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  const x = aw + af.padEnd(width, "0");
  const y = bw + bf.padEnd(width, "0");
  return x === y ? 0 : x < y ? -1 : 1;
}

/** A step's public amount and unit, or null when the leaf does not state it. */
function publicMoney(pub) {
  if (!("amount" in pub)) return null;
  return { amount: pub.amount, unit: "asset" in pub ? pub.asset : pub.currency };
}

/** Add an officer_key_registered entry to the registry (key id -> key). Throws VerifyError. */
export async function registerKey(registry, env, leafHashHex) {
  const p = env.public;
  if (registry.has(p.key_id)) fail("key_registered_twice");
  const raw = hexdecode(p.public_key);
  const keyId = hexencode((await sha256(raw)).slice(0, 16));
  if (keyId !== p.key_id) fail("key_id_mismatch");
  const validFrom = parseTimestamp(p.valid_from);
  const validUntil = p.valid_until === null ? null : parseTimestamp(p.valid_until);
  if (validUntil !== null && validUntil <= validFrom) fail("key_bad_validity");
  registry.set(p.key_id, {
    keyId,
    publicKey: raw,
    cryptoKey: await importEd25519(raw),
    roles: p.roles,
    limits: parseLimits(p.limits),
    validFrom,
    validUntil,
    registeredAt: env.atMs,
    registration: leafHashHex,
    revokedAt: null,
    revocationReason: null,
  });
}

/** Apply an officer_key_revoked entry to the registry. Throws VerifyError. */
export function revokeKey(registry, env) {
  const key = registry.get(env.public.key_id);
  if (!key) fail("key_revoke_unknown");
  if (env.prev !== key.registration) fail("key_revoke_prev");
  if (key.revokedAt !== null) fail("key_revoked_twice");
  key.revokedAt = env.atMs;
  key.revocationReason = env.public.reason;
}

/** Throws VerifyError unless key ``keyId`` could act as ``role`` at ``atMs``; the key.
 * ``who``: the message keys' prefix, "auth" for the signer, "cosigner" for a co-signer. */
export function checkAuthority(registry, keyId, role, atMs, who = "auth") {
  const key = registry.get(keyId);
  if (!key) fail(`${who}_unknown_key`, { key: keyId });
  const iso = (ms) => new Date(ms).toISOString();
  if (key.revokedAt !== null && atMs >= key.revokedAt)
    fail(`${who}_revoked`, { when: iso(key.revokedAt), reason: key.revocationReason });
  const from = Math.max(key.validFrom, key.registeredAt);
  if (atMs < from) fail(`${who}_not_yet_valid`, { when: iso(from) });
  if (key.validUntil !== null && atMs >= key.validUntil)
    fail(`${who}_expired`, { when: iso(key.validUntil) });
  if (!key.roles.includes(role)) fail(`${who}_role`, { role, roles: key.roles.join(", ") });
  return key;
}

/** officers._within_limits: one key's limits for this step (category, unit, amount). */
function checkLimits(key, type, money, category) {
  const { limits } = key;
  if (limits === null) return;
  if (limits.categories !== null && !limits.categories.includes(category))
    fail("auth_category", { key: key.keyId, category: String(category) });
  if (!rulebook().authority.limited_amount_events.includes(type)) return;
  if (money === null) fail("auth_amount_not_public", { key: key.keyId });
  if (!Object.hasOwn(limits.amounts, money.unit))
    fail("auth_unit_not_allowed", { key: key.keyId, unit: money.unit });
  const limit = limits.amounts[money.unit];
  if (compareAmounts(money.amount, limit) > 0)
    fail("auth_over_limit", { key: key.keyId, amount: money.amount, unit: money.unit, limit });
}

/**
 * officers.check_step_authority: the signer could act in the step's role at its time, within
 * its limits; above its dual-control threshold a co-signature by another officer key,
 * authorised then and within its own limits. ``category`` is the complaint's. Reads the leaf
 * alone (the co-signature's bytes: verifyCosignature). Returns {key, cosigner}; throws
 * VerifyError.
 */
export function checkStepAuthority(registry, env, category) {
  const pub = env.public;
  const key = checkAuthority(registry, pub.signature.key_id, env.actor.role, env.atMs);
  const limited = rulebook().authority.limited_amount_events.includes(env.type);
  const money = limited ? publicMoney(pub) : null;
  checkLimits(key, env.type, money, category);
  const cosig = pub.cosignature;
  if (cosig === undefined) {
    const threshold =
      key.limits !== null && money !== null ? key.limits.dualControlAbove[money.unit] : undefined;
    if (threshold !== undefined && compareAmounts(money.amount, threshold) > 0)
      fail("auth_cosignature_required", {
        key: key.keyId,
        amount: money.amount,
        unit: money.unit,
        threshold,
      });
    return { key, cosigner: null };
  }
  if (cosig.key_id === key.keyId) fail("auth_cosigner_same_key");
  const role = rulebook().authority.cosigner_role;
  const cosigner = checkAuthority(registry, cosig.key_id, role, env.atMs, "cosigner");
  checkLimits(cosigner, env.type, money, category);
  return { key, cosigner };
}

/** The co-signature's Ed25519 signature over the same body bytes (``bodyBytes``): the
 * co-signer's key, or null when the step has no co-signature. Throws VerifyError. */
export async function verifyCosignature(registry, env, bodyBytes) {
  const cosig = env.public.cosignature;
  if (cosig === undefined) return null;
  const cosigner = registry.get(cosig.key_id);
  if (!cosigner) fail("cosigner_unknown_key", { key: cosig.key_id });
  const ok = await ed25519Verify(cosigner.cryptoKey, hexdecode(cosig.sig), bodyBytes);
  if (!ok) fail("cosignature_invalid", { key: cosig.key_id });
  return cosigner;
}
