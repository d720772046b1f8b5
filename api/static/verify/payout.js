// A vault payout against the log's offer, acceptance and payment (ledger/verify/payouts.py).
//
// For every payment that names a payout commitment (public.payout: paid by the compensation
// vault), four checks in the category "payout", with the same names and details as the
// Python verifier: the offer's payout_terms are the terms in its text; the acceptance's
// payout is the commitment of those terms, the customer's address and that offer; the
// payment names that commitment; the payment's text pays those terms to that address, with
// a transaction hash. Texts are used only when they opened their commitment and were not
// erased. The transaction itself (the vault's Paid event) is checked on chain by the
// command-line verifier (ledger-verify-bundle --rpc), never from this page.

import { concat, hexencode, sha256 } from "./bytes.js";
import { msg } from "./report.js";

const CATEGORY = "payout";
const ZERO_ADDRESS = "0x" + "00".repeat(20);
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BASE_UNITS = /^(0|[1-9][0-9]{0,77})$/; // payloads.BASE_UNITS: one spelling
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const UINT256_END = 1n << 256n;
// Compared one by one, in this order; the first that differs is reported.
const PAID_FIELDS = ["chain_id", "vault", "token", "amount_base_units", "recipient"];

const address = (v) => (typeof v === "string" && ADDRESS.test(v) ? v.toLowerCase() : null);
const chainId = (v) => (Number.isSafeInteger(v) && v >= 0 ? v : null);
const amount = (v) =>
  typeof v === "string" && BASE_UNITS.test(v) && BigInt(v) < UINT256_END ? v : null;
// No token: the chain's native coin (payouts.ZERO_ADDRESS), as the contract reads it.
const token = (body) =>
  body.token === undefined || body.token === null ? ZERO_ADDRESS : address(body.token);

/** The vault terms a text states, each null when missing or invalid. */
function fieldsOf(body) {
  return {
    chain_id: chainId(body.chain_id),
    vault: address(body.vault),
    token: token(body),
    amount_base_units: amount(body.amount_base_units),
  };
}

/** The vault terms a text states, or null when one of them is missing or invalid. */
function termsOf(body) {
  const t = fieldsOf(body);
  return Object.values(t).includes(null) ? null : t;
}

/** One 32-byte ABI word: a uint256 (number or decimal string) or an address. */
function word(value) {
  const hex =
    typeof value === "string" && value.startsWith("0x")
      ? value.slice(2).padStart(64, "0")
      : BigInt(value).toString(16).padStart(64, "0");
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** payouts.terms_commitment and payouts.payout_commitment: SHA-256 of the ABI words. */
async function commitment(terms, recipient = null, offerHash = null) {
  const words = [terms.chain_id, terms.vault, terms.token, terms.amount_base_units].map(word);
  if (recipient !== null) words.push(word(recipient), offerHash);
  return hexencode(await sha256(concat(...words)));
}

function termsDetail(t) {
  const params = { chain: t.chain_id, vault: t.vault, amount: t.amount_base_units };
  return t.token === ZERO_ADDRESS
    ? msg("detail.payout_terms_native", params)
    : msg("detail.payout_terms_token", { ...params, token: t.token });
}

/** The latest step of ``type`` before position ``before``. */
function last(events, before, type) {
  for (let i = before - 1; i >= 0; i--) if (events[i].env.type === type) return events[i];
  return null;
}

/**
 * Add the payout checks of every vault payment among ``events`` (proof.js's events, in
 * chain order) to ``report``; nothing unless every step is proven to be in the log.
 * Returns what the page shows of each payout: {seq, pos, status, public, recipient, txHash,
 * chainId, token} (the last four null when no verified text gives them).
 */
export async function checkPayouts(report, events) {
  if (!events.length || events.some((ev) => !ev.env || ev.marks.inclusion !== "ok")) return [];
  const erasures = events.filter((ev) => ev.env.type === "erased");
  const erased = new Set(erasures.map((ev) => ev.env.public.erases));
  const text = (ev) => (erased.has(hexencode(ev.hash)) ? null : (ev.opened ?? null));
  const payouts = [];
  for (const [i, ev] of events.entries()) {
    if (ev.env.type !== "compensation_paid" || !("payout" in ev.env.public)) continue;
    const start = report.checks.length;
    const shown = await checkPayment(report, events, i, text);
    const statuses = report.checks.slice(start).map((c) => c.status);
    const status = statuses.includes("fail") ? "fail" : statuses.includes("skip") ? "skip" : "ok";
    payouts.push({ seq: ev.seq, pos: ev.pos, status, public: ev.env.public, ...shown });
  }
  return payouts;
}

async function checkPayment(report, events, p, text) {
  const paid = events[p];
  const shown = { recipient: null, txHash: null, chainId: null, token: null };
  const add = (status, label, detail, ev) =>
    report.add(CATEGORY, status, label, detail, { event: ev.pos });
  const accepted = last(events, p, "compensation_accepted");
  if (!accepted || !("payout" in accepted.env.public)) {
    const label = msg("item.payout_named", { seq: paid.seq });
    add("fail", label, msg("err.payout_no_acceptance"), paid);
    return shown;
  }
  const offer = last(events, events.indexOf(accepted), "compensation_offered");
  if (!offer) {
    const label = msg("item.payout_commitment", { seq: accepted.seq });
    add("fail", label, msg("err.payout_no_offer", { seq: accepted.seq }), accepted);
    return shown;
  }
  const [offerText, acceptedText, paidText] = [text(offer), text(accepted), text(paid)];
  const needsText = (...evs) => {
    const missing = evs.find((ev) => text(ev) === null);
    return missing ? msg("detail.payout_needs_text", { seq: missing.seq }) : null;
  };

  // 1. The offer's terms.
  let label = msg("item.payout_terms", { seq: offer.seq });
  const terms = offerText ? termsOf(offerText) : null;
  if (!("payout_terms" in offer.env.public))
    add("fail", label, msg("err.payout_terms_missing"), offer);
  else if (!offerText) add("skip", label, needsText(offer), offer);
  else if (!terms) add("fail", label, msg("err.payout_terms_invalid"), offer);
  else if (offer.env.public.payout_terms === (await commitment(terms)))
    add("ok", label, termsDetail(terms), offer);
  else add("fail", label, msg("err.payout_terms_mismatch"), offer);

  // 2. The acceptance's commitment: those terms, the customer's address, that offer.
  label = msg("item.payout_commitment", { seq: accepted.seq });
  const recipient = acceptedText ? address(acceptedText.recipient) : null;
  let missing = needsText(offer, accepted);
  if (missing) add("skip", label, missing, accepted);
  else if (!terms) add("skip", label, msg("detail.payout_terms_unusable"), accepted);
  else if (!recipient) add("fail", label, msg("err.payout_recipient_invalid"), accepted);
  else {
    const params = { offer: offer.seq, recipient };
    const expected = await commitment(terms, recipient, offer.hash);
    if (accepted.env.public.payout === expected)
      add("ok", label, msg("detail.payout_commitment", params), accepted);
    else add("fail", label, msg("err.payout_commitment_mismatch", params), accepted);
  }

  // 3. The payment names that commitment (public fields alone) ...
  label = msg("item.payout_named", { seq: paid.seq });
  const [named, committed] = [paid.env.public.payout, accepted.env.public.payout];
  if (named === committed) add("ok", label, msg("detail.payout_named", { payout: named }), paid);
  else {
    const params = { payout: named, accepted: committed };
    add("fail", label, msg("err.payout_not_named", params), paid);
  }

  // ... and its text pays exactly those terms to that address, in a transaction.
  label = msg("item.payout_paid", { seq: paid.seq });
  missing = needsText(offer, accepted, paid);
  if (missing) add("skip", label, missing, paid);
  else if (!terms) add("skip", label, msg("detail.payout_terms_unusable"), paid);
  else if (!recipient) add("skip", label, msg("detail.payout_recipient_unusable"), paid);
  else {
    const want = { ...terms, recipient };
    const given = { ...fieldsOf(paidText), recipient: address(paidText.recipient) };
    const differs = PAID_FIELDS.find((f) => given[f] === null || given[f] !== want[f]);
    const tx = paidText.tx_hash;
    if (differs) add("fail", label, msg("err.payout_field_differs", { field: differs }), paid);
    else if (typeof tx !== "string" || !TX_HASH.test(tx))
      add("fail", label, msg("err.payout_no_tx"), paid);
    else {
      add("ok", label, msg("detail.payout_paid", { recipient, tx }), paid);
      Object.assign(shown, { recipient, txHash: tx, chainId: terms.chain_id, token: terms.token });
    }
  }
  return shown;
}
