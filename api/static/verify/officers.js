// Officer keys (ledger/complaints/officers.py): the registry folded from the log's key entries,
// and whether a key could act in a role at a given time.

import { hexdecode, hexencode, sha256 } from "./bytes.js";
import { fail } from "./errors.js";
import { importEd25519 } from "./note.js";
import { parseTimestamp } from "./timestamps.js";

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

/** Throws VerifyError unless key ``keyId`` could act as ``role`` at ``atMs``. */
export function checkAuthority(registry, keyId, role, atMs) {
  const key = registry.get(keyId);
  if (!key) fail("auth_unknown_key", { key: keyId });
  const iso = (ms) => new Date(ms).toISOString();
  if (key.revokedAt !== null && atMs >= key.revokedAt)
    fail("auth_revoked", { when: iso(key.revokedAt), reason: key.revocationReason });
  const from = Math.max(key.validFrom, key.registeredAt);
  if (atMs < from) fail("auth_not_yet_valid", { when: iso(from) });
  if (key.validUntil !== null && atMs >= key.validUntil)
    fail("auth_expired", { when: iso(key.validUntil) });
  if (!key.roles.includes(role)) fail("auth_role", { role, roles: key.roles.join(", ") });
  return key;
}
