// The proof verification entry point: verifyProof checks the JSON of
// GET /v1/complaints/<ref>/proof (or an evidence bundle's proof.json) step by step.
//
// Implements the checks of ledger/verify/complaint.py (verify_complaint_proof): C2SP
// signed-note checkpoint, RFC 9162 inclusion and consistency proofs, the RFC 8785 event
// envelopes, the per-complaint hash chain and state machine, salted commitments, officer keys
// (log entries) and Ed25519 body signatures with their authority at signing time, each
// disclosed message's text against the SHA-256 its leaf states, and the
// blockchain anchor record; a vault payout against its offer, acceptance and payment, and,
// given a way to get receipts, its Paid event on chain (payout.js). Every check goes in the
// report; nothing here throws for bad input.

import { verifyAnchor } from "./anchor.js";
import { concat, hexdecode, hexencode, sha256, utf8 } from "./bytes.js";
import { fail } from "./errors.js";
import { parseEnvelope } from "./events.js";
import { isObject, parseCanonical } from "./json.js";
import { asProofList, leafHash, verifyInclusion } from "./merkle.js";
import { loadMessages } from "./messages.js";
import { ed25519Verify, openCheckpoint, parseVerifierKey } from "./note.js";
import { checkStepAuthority, registerKey, revokeKey, verifyCosignature } from "./officers.js";
import {
  checkBody,
  checkConsistency,
  checkContext,
  checkMessageText,
  checkPayoutTerms,
  contextHeads,
} from "./payloads.js";
import { checkPayouts } from "./payout.js";
import { formatReference, parseReference } from "./reference.js";
import { errMsg, msg, Report } from "./report.js";
import { loadRules, rulesLoaded, SIGNED_EVENTS, STATUSES } from "./rules.js";
import { applyStep } from "./states.js";

/** Check one log entry's inclusion: {hash, ok}, its leaf hash (null without a leaf) and
 * whether its inclusion in the checkpoint is proven. */
async function included(report, cat, label, item, cp, extra) {
  let hash = null;
  try {
    if (typeof item.leaf !== "string") fail("leaf_missing");
    hash = await leafHash(utf8(item.leaf));
  } catch (exc) {
    report.fail(cat, label, errMsg(exc), extra);
    return { hash: null, ok: false };
  }
  if (!cp) {
    report.skip(cat, label, msg("detail.no_checkpoint"), extra);
    return { hash, ok: false };
  }
  try {
    await verifyInclusion(item.index, cp.size, hash, asProofList(item.inclusion_proof), cp.root);
  } catch (exc) {
    report.fail(cat, label, errMsg(exc), {
      ...extra,
      tech: msg("tech.leaf_hash", { hash: hexencode(hash) }),
    });
    return { hash, ok: false };
  }
  report.ok(cat, label, msg("detail.index_of", { index: item.index, size: cp.size }), {
    ...extra,
    tech: msg("tech.leaf_hash", { hash: hexencode(hash) }),
  });
  return { hash, ok: true };
}

/**
 * Verify a complaint proof. ``vkeyText`` is the log's verifier key; ``expectedReference`` is
 * what the customer typed (optional). ``receipts``: how to get a payout transaction's
 * receipt (payout.js's checkPayouts; the page asks this service's chain node); without it
 * no on-chain check is made, as in the Python proof verifier. Never throws for bad input:
 * failures go in the report. Returns what the page shows: ``report`` (a Report), its
 * ``categories`` and verdict ``ok``, the ``events`` with their marks, ``officerKeys``,
 * ``state``, ``checkpoint``, ``anchor``, ``payouts`` (payout.js).
 */
export async function verifyProof(
  proof,
  vkeyText,
  { expectedReference = null, serverStatus = null, receipts = null } = {},
) {
  if (!rulesLoaded()) await loadRules();
  await loadMessages("en"); // for report.toJSON(); fetched once
  const report = new Report();
  const result = {
    report,
    events: [],
    officerKeys: [],
    state: null,
    checkpoint: null,
    anchor: null,
    payouts: [],
  };
  if (!isObject(proof)) {
    report.fail("checkpoint", msg("item.proof"), msg("err.proof_format"));
    return finish(result);
  }

  // 1. The log key and the checkpoint signed with it.
  let verifier = null;
  try {
    verifier = await parseVerifierKey(vkeyText);
    report.ok(
      "key",
      msg("item.key_wellformed"),
      msg("detail.key_id", { name: verifier.name, id: verifier.keyId }),
    );
  } catch (exc) {
    report.fail("key", msg("item.key_wellformed"), errMsg(exc));
  }
  let cp = null;
  const cpLabel = msg("item.checkpoint_signature");
  if (!verifier) {
    report.skip("checkpoint", cpLabel, msg("detail.no_key"));
  } else {
    try {
      const note = proof.checkpoint && proof.checkpoint.note;
      cp = await openCheckpoint(note, verifier);
      if (proof.checkpoint.size !== cp.size || proof.checkpoint.root !== hexencode(cp.root))
        fail("checkpoint_fields_differ");
      if (typeof proof.log === "string" && proof.log !== cp.origin)
        fail("checkpoint_origin", { origin: cp.origin, log: proof.log });
      report.ok(
        "checkpoint",
        cpLabel,
        msg("detail.checkpoint", { origin: cp.origin, size: cp.size }),
        {
          tech: msg("tech.root", { root: hexencode(cp.root) }),
        },
      );
      result.checkpoint = cp;
    } catch (exc) {
      cp = null;
      report.fail("checkpoint", cpLabel, errMsg(exc));
    }
  }

  // 2. Every event: inclusion, well-formed envelope.
  const items = Array.isArray(proof.events) ? proof.events : [];
  if (!items.length) report.fail("inclusion", msg("item.events"), msg("err.no_events"));
  for (const [i, item] of items.entries()) {
    const ev = {
      pos: i,
      seq: item.seq,
      type: item.type,
      index: item.index,
      erased: !!item.erased,
      env: null,
      body: null,
      hash: null,
      marks: {},
    };
    result.events.push(ev);
    const extra = { event: i };
    const label = msg("item.event_in_log", { seq: item.seq, type: item.type });
    const inc = await included(report, "inclusion", label, item, cp, extra);
    ev.hash = inc.hash;
    ev.marks.inclusion = inc.ok ? "ok" : cp ? "fail" : "skip";
    try {
      const env = parseEnvelope(item.leaf);
      if (env.seq !== item.seq || env.type !== item.type) fail("listing_differs");
      ev.env = env;
    } catch (exc) {
      ev.envError = errMsg(exc);
    }
  }

  // 3. The reference is derived from the first event's leaf hash.
  const first = result.events[0];
  const refLabel = msg("item.reference");
  if (!first || !first.hash) {
    report.fail("reference", refLabel, msg("err.no_events"));
  } else {
    const derived = formatReference(first.hash);
    let given = null;
    try {
      given = parseReference(proof.reference);
    } catch {
      /* compared below */
    }
    if (given !== derived) {
      report.fail(
        "reference",
        refLabel,
        msg("err.ref_not_derived", { ref: String(proof.reference), derived }),
      );
    } else if (expectedReference && expectedReference !== derived) {
      report.fail(
        "reference",
        refLabel,
        msg("err.ref_other_complaint", { ref: expectedReference, derived }),
      );
    } else {
      report.ok("reference", refLabel, msg("detail.reference", { ref: derived }));
    }
    result.reference = derived;
  }

  // 4. Officer keys: inclusion of their log entries, then the registry in log order.
  const registry = new Map();
  const keyEntries = [];
  for (const key of Array.isArray(proof.officer_keys) ? proof.officer_keys : []) {
    for (const entry of Array.isArray(key.entries) ? key.entries : []) {
      const label = msg("item.officer_entry", { key: String(key.key_id), index: entry.index });
      const inc = await included(report, "officer_keys", label, entry, cp, {});
      if (inc.ok) keyEntries.push({ key, entry, hash: inc.hash, label });
    }
  }
  keyEntries.sort((a, b) => a.entry.index - b.entry.index);
  for (const { key, entry, hash, label } of keyEntries) {
    const lbl = msg("item.officer_entry_valid", label.params);
    try {
      const env = parseEnvelope(entry.leaf);
      if (env.public.key_id !== key.key_id) fail("key_entry_other_key");
      if (env.type === "officer_key_registered") await registerKey(registry, env, hexencode(hash));
      else if (env.type === "officer_key_revoked") revokeKey(registry, env);
      else fail("key_entry_type", { type: env.type });
      report.ok(
        "officer_keys",
        lbl,
        msg(`detail.${env.type}`, {
          roles: (env.public.roles || []).join(", "),
          from: env.public.valid_from || "",
          until: env.public.valid_until || "—",
          reason: env.public.reason || "",
          at: env.at,
        }),
      );
      result.officerKeys.push({ keyId: key.key_id, type: env.type, env });
    } catch (exc) {
      report.fail("officer_keys", lbl, errMsg(exc));
    }
  }

  // 5. The chain: order, links, complaint rules; the officer's authority for signed steps.
  let state = null;
  let head = null;
  let lastAt = null;
  for (const ev of result.events) {
    const extra = { event: ev.pos };
    const label = msg("item.event", { seq: ev.seq, type: ev.type });
    if (!ev.env) {
      report.fail("chain", label, ev.envError, extra);
      ev.marks.chain = "fail";
      head = ev.hash ? hexencode(ev.hash) : null;
      continue;
    }
    const env = ev.env;
    const hashHex = hexencode(ev.hash);
    try {
      if (ev.pos === 0) {
        if (env.type !== "received") fail("chain_start", { type: env.type });
      } else {
        if (env.seq !== ev.pos) fail("chain_seq", { seq: env.seq, expected: ev.pos });
        if (env.prev !== head) fail("chain_prev");
        if (env.complaint !== result.reference)
          fail("chain_reference", { ref: String(env.complaint) });
        if (env.log !== result.events[0].env?.log) fail("chain_log");
        if (lastAt !== null && env.atMs < lastAt) fail("chain_time");
      }
      if (cp && env.log !== cp.origin) fail("chain_log");
      report.ok(
        "chain",
        label,
        ev.pos === 0 ? msg("detail.chain_first") : msg("detail.chain_link"),
        {
          ...extra,
          tech: env.prev ? msg("tech.prev", { prev: env.prev }) : null,
        },
      );
      ev.marks.chain = "ok";
    } catch (exc) {
      report.fail("chain", label, errMsg(exc), {
        ...extra,
        tech: msg("tech.prev_head", { prev: String(env.prev), head: String(head) }),
      });
      ev.marks.chain = "fail";
    }
    head = hashHex;
    lastAt = env.atMs;
    if (SIGNED_EVENTS.includes(env.type)) {
      const sig = env.public.signature;
      const alabel = msg("item.authority", { seq: ev.seq, type: ev.type, key: sig.key_id });
      if (!cp) {
        // Officer key entries cannot be proven without a verified checkpoint.
        report.skip("authority", alabel, msg("detail.no_checkpoint"), extra);
        ev.marks.authority = "skip";
      } else
        try {
          // The signer's key, its limits and dual control (officers.check_step_authority),
          // for the complaint's category (carried on after a broken step, as the status is).
          const { key, cosigner } = checkStepAuthority(registry, env, state?.category);
          ev.signer = key;
          const params = { role: env.actor.role, at: env.at, cosigner: cosigner?.keyId };
          const detail = cosigner ? "detail.authority_cosigned" : "detail.authority";
          report.ok("authority", alabel, msg(detail, params), extra);
          ev.marks.authority = "ok";
        } catch (exc) {
          report.fail("authority", alabel, errMsg(exc), extra);
          ev.marks.authority = "fail";
        }
    }
    try {
      const next = applyStep(state, env, hashHex);
      report.ok("rules", label, msg("detail.rule", { status: next.status }), extra);
      ev.marks.rules = "ok";
      state = next;
    } catch (exc) {
      report.fail("rules", label, errMsg(exc), extra);
      ev.marks.rules = "fail";
      // Carry on from the status the event claims, so later steps are still checked.
      if (state && STATUSES.includes(env.public.state)) {
        state = {
          ...state,
          status: env.public.state,
          events: [...state.events, { hash: hashHex, type: env.type, seq: env.seq }],
        };
      }
    }
  }
  result.state = state;

  // 6. Disclosed bodies open their commitments; signed bodies carry a valid signature.
  const erased = new Set(state ? state.erased : []);
  const disclosed = result.events.some((ev) => typeof items[ev.pos].body === "string");
  for (const ev of result.events) {
    const item = items[ev.pos];
    const extra = { event: ev.pos };
    const label = msg("item.event", { seq: ev.seq, type: ev.type });
    const hasBody = typeof item.body === "string" && typeof item.salt === "string";
    const isErased = ev.hash && erased.has(hexencode(ev.hash));
    if (!ev.env) continue;
    if (!hasBody) {
      const why = isErased || item.erased ? "detail.body_erased" : "detail.body_not_disclosed";
      report.skip("commitments", label, msg(why), extra);
      ev.marks.commitment = "skip";
    } else {
      try {
        if (isErased) fail("erased_but_disclosed");
        const salt = hexdecode(item.salt);
        if (salt.length !== 32) fail("salt_length");
        const commitment = hexencode(await sha256(concat(salt, utf8(item.body))));
        if (commitment !== ev.env.commitment) fail("commitment_mismatch");
        const body = parseCanonical(item.body);
        if (!isObject(body)) fail("body_not_object");
        // The text this leaf commits to, for the payout checks even when it breaks a rule below.
        ev.opened = body;
        checkBody(ev.env.type, body);
        checkConsistency(ev.env, body);
        await checkPayoutTerms(ev.env, body);
        await checkMessageText(ev.env, body);
        ev.body = body;
        report.ok("commitments", label, msg("detail.commitment"), {
          ...extra,
          tech: msg("tech.commitment", { hash: commitment }),
        });
        ev.marks.commitment = "ok";
      } catch (exc) {
        report.fail("commitments", label, errMsg(exc), {
          ...extra,
          tech: msg("tech.commitment", { hash: ev.env.commitment }),
        });
        ev.marks.commitment = "fail";
      }
    }
    if (!SIGNED_EVENTS.includes(ev.env.type)) continue;
    const slabel = msg("item.signature", { seq: ev.seq, type: ev.type });
    if (!cp) {
      report.skip("signatures", slabel, msg("detail.no_checkpoint"), extra);
      ev.marks.signature = "skip";
      continue;
    }
    if (!ev.body) {
      // With bodies disclosed (a secret was given) every signed, unerased body must be there.
      if (hasBody) {
        // The commitment check already failed for this step; the signature proves nothing here.
        report.skip("signatures", slabel, msg("detail.signature_unopened"), extra);
        ev.marks.signature = "skip";
      } else if (disclosed && !isErased && !item.erased) {
        report.fail("signatures", slabel, msg("err.signed_body_missing"), extra);
        ev.marks.signature = "fail";
      } else {
        report.skip(
          "signatures",
          slabel,
          msg(isErased || item.erased ? "detail.body_erased" : "detail.signature_needs_secret"),
          extra,
        );
        ev.marks.signature = "skip";
      }
      continue;
    }
    try {
      // The chain is known: a letter recorded after the signing is no mismatch.
      const chain = result.events
        .slice(0, ev.pos)
        .map((e) => [e.hash ? hexencode(e.hash) : null, e.env ? e.env.type : null]);
      checkContext(ev.env, ev.body, contextHeads(chain));
      const key = registry.get(ev.env.public.signature.key_id);
      if (!key) fail("auth_unknown_key", { key: ev.env.public.signature.key_id });
      const ok = await ed25519Verify(
        key.cryptoKey,
        hexdecode(ev.env.public.signature.sig),
        utf8(item.body),
      );
      if (!ok) fail("signature_invalid");
      // A co-signature is over the same body bytes (officers.verify_event_signature).
      const cosigner = await verifyCosignature(registry, ev.env, utf8(item.body));
      const params = { key: key.keyId, cosigner: cosigner?.keyId };
      const detail = cosigner ? "detail.signature_cosigned" : "detail.signature";
      report.ok("signatures", slabel, msg(detail, params), extra);
      ev.marks.signature = "ok";
    } catch (exc) {
      report.fail("signatures", slabel, errMsg(exc), extra);
      ev.marks.signature = "fail";
    }
  }

  // 7. A vault payout against the offer, acceptance and payment it carries out (and on chain).
  result.payouts = await checkPayouts(report, result.events, { receipts });

  // 8. The blockchain anchor.
  result.anchor = await verifyAnchor(report, proof.anchor, cp, verifier);

  // 9. What the service says the status is, against the status recomputed from the log.
  if (serverStatus) {
    const label = msg("item.server_status");
    if (state && serverStatus === state.status) {
      report.ok("server_status", label, msg("detail.server_status", { status: state.status }));
    } else {
      report.fail(
        "server_status",
        label,
        msg("err.server_status", {
          server: serverStatus,
          log: state ? state.status : "—",
        }),
      );
    }
  }
  return finish(result);
}

/** The report as the page reads it: its categories, the verdict, and where items were skipped. */
function finish(result) {
  const { report } = result;
  result.categories = report.categories();
  result.ok = report.passed;
  result.caveats = result.categories
    .filter((c) => c.items.some((i) => i.status === "skip"))
    .map((c) => c.id);
  return result;
}
