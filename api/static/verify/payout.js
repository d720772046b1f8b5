// A vault payout against the log's offer, acceptance and payment (ledger/verify/payouts.py).
//
// For every payment that names a payout commitment (public.payout: paid by the compensation
// vault), four checks in the category "payout", with the same names and details as the
// Python verifier: the offer's payout_terms are the terms in its text; the acceptance's
// payout is the commitment of those terms, the customer's address and that offer; the
// payment names that commitment; the payment's text pays those terms to that address, with
// a transaction hash. Texts are used only when they opened their commitment and were not
// erased.
//
// Then, when the caller gives a way to get receipts (the page: this service's
// GET /v1/chains/<id>/transactions/<tx>, relaying its own chain node), a fifth check, "Step N:
// the vault's Paid event on chain", the receipt judged as ledger/verify/onchain.py judges it
// for ledger-verify-bundle --rpc: the transaction succeeded, its block is canonical with
// enough confirmations, and the vault's Paid event pays the offer and the acceptance on the
// log, against a tree that holds the acceptance, the recipient, token and amount the log
// authorises (with the token's Transfer to the recipient). The receipt is this service's word
// for what the chain holds: --rpc with one's own node is the independent check.

import { concat, hexencode, sha256 } from "./bytes.js";
import { isObject } from "./json.js";
import { msg } from "./report.js";

const CATEGORY = "payout";
const ZERO_ADDRESS = "0x" + "00".repeat(20);
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BASE_UNITS = /^(0|[1-9][0-9]{0,77})$/; // payloads.BASE_UNITS: one spelling
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const UINT256_END = 1n << 256n;
// Compared one by one, in this order; the first that differs is reported.
const PAID_FIELDS = ["chain_id", "vault", "token", "amount_base_units", "recipient"];
// keccak256 of "Paid(bytes32,bytes32,address,address,uint256,uint64)", the vault's payout
// event (offerLeafHash, acceptLeafHash, recipient indexed; token, amount, treeSize in the
// data), and of "Transfer(address,address,uint256)", the ERC-20 transfer; WebCrypto has no
// keccak, so they are constants, checked against the contracts' ABI by
// tests/api/test_chain_receipts_api.py.
export const PAID_TOPIC = "0x60ad3f4fe770b1021b5046e6e9ecef79ba4653e2fe9699a9730621034ec1ac5d";
export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
// Confirmations the payout's block needs: the command line's default (onchain.py's
// DEFAULT_CONFIRMATIONS), but one on the development chain, where the run command's anvil
// mines a block per transaction and a second block may never come.
export const DEFAULT_CONFIRMATIONS = 6;
export const DEV_CHAIN_ID = 31337;
export const confirmationsFor = (chain) => (chain === DEV_CHAIN_ID ? 1 : DEFAULT_CONFIRMATIONS);
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
const WORD = /^0x[0-9a-fA-F]{64}$/;
const DATA = /^0x([0-9a-fA-F]{2})*$/;

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
 * ``receipts(chainId, txHash)``, when given, gets a transaction's receipt for the on-chain
 * check: it resolves to {answer} (GET /v1/chains/<id>/transactions/<tx>'s JSON), {missing}
 * (the node knows no such transaction) or {skip: "no_node" | "other_chain" | "unreachable"}
 * (no receipt to be had, the check is not made).
 * Returns what the page shows of each payout: {seq, pos, status, onchain, public, recipient,
 * txHash, chainId, token} (the last four null when no verified text gives them; ``onchain``
 * the on-chain check's status, null without ``receipts``; ``status`` is the offline checks',
 * failed when the on-chain check failed).
 */
export async function checkPayouts(report, events, { receipts = null } = {}) {
  if (!events.length || events.some((ev) => !ev.env || ev.marks.inclusion !== "ok")) return [];
  const erasures = events.filter((ev) => ev.env.type === "erased");
  const erased = new Set(erasures.map((ev) => ev.env.public.erases));
  const text = (ev) => (erased.has(hexencode(ev.hash)) ? null : (ev.opened ?? null));
  const payouts = [];
  for (const [i, ev] of events.entries()) {
    if (ev.env.type !== "compensation_paid" || !("payout" in ev.env.public)) continue;
    const start = report.checks.length;
    const { claim, ...shown } = await checkPayment(report, events, i, text);
    const statuses = report.checks.slice(start).map((c) => c.status);
    let status = statuses.includes("fail") ? "fail" : statuses.includes("skip") ? "skip" : "ok";
    let onchain = null;
    if (receipts) {
      onchain = await checkOnChain(report, ev, status === "ok" ? claim : null, status, receipts);
      if (onchain === "fail") status = "fail";
    }
    payouts.push({ seq: ev.seq, pos: ev.pos, status, onchain, public: ev.env.public, ...shown });
  }
  return payouts;
}

async function checkPayment(report, events, p, text) {
  const paid = events[p];
  const shown = { recipient: null, txHash: null, chainId: null, token: null, claim: null };
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
      // What the vault's Paid event must show, all of it verified against the log above.
      const logIndex = paidText.paid_event_log_index;
      shown.claim = {
        ...terms,
        recipient,
        tx: tx.toLowerCase(),
        offerHash: hexencode(offer.hash),
        acceptHash: hexencode(accepted.hash),
        offerSeq: offer.seq,
        acceptSeq: accepted.seq,
        acceptIndex: accepted.index,
        logIndex: Number.isSafeInteger(logIndex) ? logIndex : null,
      };
    }
  }
  return shown;
}

// --- the vault's Paid event on chain -----------------------------------------------------------

const lower = (v) => (typeof v === "string" ? v.toLowerCase() : null);
const quantity = (v) => (typeof v === "string" && QUANTITY.test(v) ? BigInt(v) : null);
const topicsOf = (entry) =>
  Array.isArray(entry.topics) && entry.topics.every((t) => typeof t === "string" && WORD.test(t))
    ? entry.topics.map((t) => t.toLowerCase())
    : null;

/** The Paid events ``vault`` emitted among ``logs``, decoded (onchain._paid_events). */
function paidEvents(logs, vault) {
  const out = [];
  for (const entry of logs) {
    if (!isObject(entry) || lower(entry.address) !== vault) continue;
    const topics = topicsOf(entry);
    if (!topics || topics[0] !== PAID_TOPIC) continue;
    const data = typeof entry.data === "string" && DATA.test(entry.data) ? entry.data : "";
    if (topics.length !== 4 || data.length < 2 + 3 * 64) continue;
    const word = (i) => "0x" + data.slice(2 + 64 * i, 2 + 64 * (i + 1)).toLowerCase();
    out.push({
      offer: topics[1].slice(2),
      accept: topics[2].slice(2),
      recipient: "0x" + topics[3].slice(-40),
      token: "0x" + word(0).slice(-40),
      amount: BigInt(word(1)),
      treeSize: BigInt(word(2)),
      logIndex: quantity(entry.logIndex) ?? 0n,
    });
  }
  return out;
}

/** Whether ``token`` emitted Transfer(_, recipient, amount) among ``logs`` (onchain._transfers). */
function transferred(logs, token, recipient, amount) {
  const to = "0x" + recipient.slice(2).padStart(64, "0");
  return logs.some((entry) => {
    if (!isObject(entry) || lower(entry.address) !== token) return false;
    const topics = topicsOf(entry);
    const data = typeof entry.data === "string" && DATA.test(entry.data) ? entry.data : "0x";
    return (
      topics?.length === 3 &&
      topics[0] === TRANSFER_TOPIC &&
      topics[2] === to &&
      BigInt(data === "0x" ? "0" : data) === amount
    );
  });
}

/** The receipt against what the log authorises: the message that explains the verdict. */
function judgeReceipt(answer, claim) {
  const fail = (key, params = {}) => ({ ok: false, detail: msg(`err.${key}`, params) });
  const r = isObject(answer) && isObject(answer.receipt) ? answer.receipt : null;
  const status = r && quantity(r.status);
  const block = r && quantity(r.blockNumber);
  const latest = r && quantity(answer.latest_block);
  const wellFormed =
    r &&
    answer.chain_id === claim.chain_id &&
    lower(answer.tx_hash) === claim.tx &&
    lower(r.transactionHash) === claim.tx &&
    status !== null &&
    block !== null &&
    latest !== null &&
    typeof r.blockHash === "string" &&
    Array.isArray(r.logs);
  if (!wellFormed) return fail("payout_onchain_answer");
  const tx = claim.tx;
  if (status !== 1n) return fail("payout_onchain_reverted", { tx });
  // Confirmations count only for the node's canonical block at that height (a reorg: none).
  const canonical = lower(answer.block_hash_at_height) === lower(r.blockHash);
  const n = canonical && latest >= block ? latest - block + 1n : 0n;
  const need = confirmationsFor(claim.chain_id);
  if (n < BigInt(need))
    return fail("payout_onchain_confirmations", { tx, n: String(n), need, block: String(block) });

  const vault = claim.vault;
  const paid = paidEvents(r.logs, vault).filter((e) => e.offer === claim.offerHash);
  if (!paid.length) return fail("payout_onchain_no_event", { vault, offer: claim.offerSeq });
  const e = paid[0];
  if (e.accept !== claim.acceptHash)
    return fail("payout_onchain_acceptance", { accepted: claim.acceptSeq });
  if (Number.isSafeInteger(claim.acceptIndex) && e.treeSize <= BigInt(claim.acceptIndex)) {
    const params = { size: String(e.treeSize), index: claim.acceptIndex };
    return fail("payout_onchain_tree_size", params);
  }
  if (claim.logIndex !== null && BigInt(claim.logIndex) !== e.logIndex) {
    return fail("payout_onchain_log_index", {
      recorded: claim.logIndex,
      index: String(e.logIndex),
    });
  }
  const amount = BigInt(claim.amount_base_units);
  if (e.recipient !== claim.recipient || e.token !== claim.token || e.amount !== amount) {
    return fail("payout_onchain_paid", {
      amount: String(e.amount),
      token: e.token,
      recipient: e.recipient,
      want_amount: claim.amount_base_units,
      want_token: claim.token,
      want_recipient: claim.recipient,
    });
  }
  if (claim.token !== ZERO_ADDRESS && !transferred(r.logs, claim.token, claim.recipient, amount)) {
    const { token, recipient } = claim;
    return fail("payout_onchain_no_transfer", { amount: String(amount), token, recipient });
  }
  const params = {
    tx,
    block: String(block),
    n: String(n),
    need,
    offer: claim.offerSeq,
    accepted: claim.acceptSeq,
    amount: String(e.amount),
    token: e.token,
    recipient: e.recipient,
    size: String(e.treeSize),
  };
  const key = e.token === ZERO_ADDRESS ? "payout_onchain_native" : "payout_onchain_token";
  return { ok: true, detail: msg(`detail.${key}`, params) };
}

/**
 * The on-chain check of one payment: skipped unless its offline checks passed (``claim``),
 * or when no receipt can be had; else the receipt judged. Returns its status.
 */
async function checkOnChain(report, paid, claim, offline, receipts) {
  const label = msg("item.payout_onchain", { seq: paid.seq });
  const add = (status, detail) => {
    report.add(CATEGORY, status, label, detail, { event: paid.pos });
    return status;
  };
  if (!claim) {
    const why = offline === "fail" ? "payout_onchain_after_failure" : "payout_onchain_unchecked";
    return add("skip", msg(`detail.${why}`));
  }
  let got;
  try {
    got = await receipts(claim.chain_id, claim.tx);
  } catch {
    got = { skip: "unreachable" };
  }
  if (!isObject(got)) got = { skip: "unreachable" };
  if (got.skip) {
    return add("skip", msg(`detail.payout_onchain_${got.skip}`, { chain: claim.chain_id }));
  }
  if (got.missing) {
    const params = { tx: claim.tx, chain: claim.chain_id };
    return add("fail", msg("err.payout_onchain_not_found", params));
  }
  let verdict;
  try {
    verdict = judgeReceipt(got.answer, claim);
  } catch {
    verdict = { ok: false, detail: msg("err.payout_onchain_answer") }; // never an exception
  }
  return add(verdict.ok ? "ok" : "fail", verdict.detail);
}
