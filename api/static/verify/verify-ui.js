// The /verify page: fetch a complaint proof (or read it from an evidence bundle), verify it in
// this browser with verify-core.js, and say what it found in plain words: the verdict and a
// short summary first, then what happened step by step, then the checks, folded.
// The secret is sent only as an Authorization header to this service and never stored; it is
// never read from the address (a secret= parameter is dropped from it unread).

import { formatMessage, loadMessages, lookupText } from "./messages.js";
import { rulebook } from "./rules.js";
import * as core from "./verify-core.js";

const LANGS = ["en", "ca", "pt", "zh", "lt", "ru"];
const HTML_LANG = { zh: "zh-Hans" };
// Local development chains (anvil/hardhat, ganache): no public explorer knows them, so their
// transactions are never linked, whatever explorer is configured.
const DEV_CHAINS = new Set([31337, 1337]);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
const API = meta("verify-api").replace(/\/$/, "");
const $ = (id) => document.getElementById(id);

const page = {
  lang: "en",
  dict: {},
  fallback: {},
  serverKey: null, // {text} or {error}
  pastedKey: null,
  last: null, // {proof, source, expectedReference, server}
  result: null,
  keyUsed: null, // {text, origin}
  busy: false,
  explorers: {}, // chain id -> transaction URL template with {tx} (GET /v1/chains)
};
window.VerifyCore = core; // for the browser tests (vectors) and curious users

// --- translation -----------------------------------------------------------------------------

const locale = () => HTML_LANG[page.lang] || page.lang;

/** The locale for dates, numbers and plurals: the reader's own variant of the page's language
 * (en-GB: 24-hour times, day before month), else the language itself. */
function formatLocale() {
  if (HTML_LANG[page.lang]) return HTML_LANG[page.lang]; // one script for Chinese
  for (const tag of navigator.languages || [navigator.language]) {
    if (String(tag).toLowerCase().split(/[-_]/)[0] !== page.lang) continue;
    try {
      return Intl.getCanonicalLocales(tag)[0];
    } catch {
      break;
    }
  }
  return page.lang;
}

// The page's language first, English where it lacks a text; times in the reader's form.
const t = (key, params = {}) => formatMessage([page.dict, page.fallback], key, params, formatTime);

const tm = (m) => (m ? t(m.key, m.params) : "");

/** A code of a vocabulary in words; an unknown code made readable, never shown raw. */
function vocab(kind, code) {
  if (code === null || code === undefined) return "—";
  const words = lookupText([page.dict, page.fallback], `${kind}.${code}`);
  return words ?? String(code).replace(/_/g, " ");
}

const pluralRules = new Map(); // locale -> Intl.PluralRules

/** "{n} things" in the page's language: the catalogue's plural.<key>.<CLDR category>. */
function plural(key, n, params = {}) {
  const loc = formatLocale();
  if (!pluralRules.has(loc)) pluralRules.set(loc, new Intl.PluralRules(loc));
  const category = Number.isFinite(n) ? pluralRules.get(loc).select(n) : "other";
  const dicts = [page.dict, page.fallback];
  const form = lookupText(dicts, `plural.${key}.${category}`) !== undefined ? category : "other";
  return t(`plural.${key}.${form}`, { ...params, n: new Intl.NumberFormat(loc).format(n) });
}

/** A language code ("pt") as its name in the page's language ("Portuguese"). */
function languageName(code) {
  if (typeof code !== "string" || !code) return "—";
  try {
    return new Intl.DisplayNames([formatLocale()], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

function pickLanguage() {
  const asked = new URLSearchParams(location.search).get("lang");
  const wanted = [asked, ...(navigator.languages || [navigator.language])].filter(Boolean);
  for (const tag of wanted) {
    const primary = String(tag).toLowerCase().split(/[-_]/)[0];
    if (LANGS.includes(primary)) return primary;
  }
  return "en";
}

async function setLanguage(lang) {
  if (!LANGS.includes(lang)) lang = "en";
  if (!Object.keys(page.fallback).length) page.fallback = await loadMessages("en");
  page.dict = lang === "en" ? page.fallback : await loadMessages(lang);
  page.lang = lang;
  document.documentElement.lang = locale();
  $("lang").value = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]"))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  // A field's error is re-said in the new language (its key is kept on the element).
  for (const el of document.querySelectorAll("[data-error-key]"))
    el.textContent = t(el.dataset.errorKey, JSON.parse(el.dataset.errorParams || "{}"));
  document.title = t("ui.title");
  updateSecretToggle();
  renderKey();
  if (page.result) renderResults();
}

// --- small DOM helpers ------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (
      k.startsWith("data-") ||
      k.startsWith("aria-") ||
      k === "role" ||
      k === "id" ||
      k === "tabindex" ||
      k === "lang" ||
      k === "datetime" ||
      k === "open"
    )
      node.setAttribute(k, v === true ? "" : v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const ICON = { ok: "✓", fail: "✗", skip: "–" };

/** A status mark: icon and word (never colour alone). */
function mark(status, text = null) {
  return el(
    "span",
    { class: `mark mark-${status}`, "data-mark": status },
    el("span", { class: "icon", "aria-hidden": "true", text: ICON[status] }),
    el("span", { class: "word", text: text ?? t(`mark.${status}`) }),
  );
}

/** Progress and errors of the form (boxId "form-status") or of a bundle ("progress"). */
function showProgress(text, kind = "info", boxId = "form-status") {
  const box = $(boxId);
  box.replaceChildren();
  box.dataset.kind = kind;
  if (text) box.append(el("p", { text }));
}

function clearProgress() {
  showProgress("", "info", "form-status");
  showProgress("", "info", "progress");
}

function formatTime(iso) {
  const ms = core.parseTimestamp(iso);
  if (ms === null) return String(iso);
  try {
    // The reader's own time zone, named after the time.
    return new Intl.DateTimeFormat(formatLocale(), {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    }).format(new Date(ms));
  } catch {
    return iso;
  }
}

/** The reader's time zone, by its name in the page's language and its IANA id. */
function zoneName() {
  const options = Intl.DateTimeFormat().resolvedOptions();
  const id = options.timeZone || "UTC";
  let long = "";
  try {
    const parts = new Intl.DateTimeFormat(formatLocale(), { timeZone: id, timeZoneName: "long" });
    long = parts.formatToParts(new Date()).find((p) => p.type === "timeZoneName")?.value || "";
  } catch {
    /* the id alone */
  }
  return long && long !== id ? `${long} (${id})` : id;
}

function timeEl(iso) {
  return el("time", { datetime: iso, title: iso, text: formatTime(iso) });
}

function formatAmount(fields) {
  if (!fields || !("amount" in fields)) return null;
  const [whole, frac] = String(fields.amount).split(".");
  const sep = t("number.group");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep === "number.group" ? "," : sep);
  const decimal = t("number.decimal");
  const text = frac ? `${grouped}${decimal === "number.decimal" ? "." : decimal}${frac}` : grouped;
  return `${text}\u00a0${fields.asset || fields.currency || ""}`.trim();
}

/** An officer key's limits in words: amounts per unit, categories, the dual-control threshold. */
function limitsText(limits) {
  const amounts = (byUnit) =>
    Object.entries(byUnit)
      .map(([currency, amount]) => formatAmount({ amount, currency }))
      .join(", ");
  const parts = [t("ui.limits_amounts", { amounts: amounts(limits.amounts) || "0" })];
  if (limits.categories !== null) {
    const categories = limits.categories.map((c) => vocab("category", c)).join(", ");
    parts.push(t("ui.limits_categories", { categories }));
  }
  if (Object.keys(limits.dualControlAbove).length)
    parts.push(t("ui.limits_dual", { amounts: amounts(limits.dualControlAbove) }));
  return parts.join("; ");
}

/** Who signed a signed step (and co-signed it), and the limits the signing key had. */
function addSigners(ev, add) {
  const p = ev.env.public;
  // The payout worker signs the vault's payouts with its own (system) key.
  add(ev.env.actor.role === "system" ? "signed_by_system" : "signed_by", code(p.signature.key_id));
  if (p.cosignature) add("cosigned_by", code(p.cosignature.key_id));
  // ev.signer: the key found authorised for this step (proof.js), with its registered limits.
  if (ev.signer?.limits) add("signer_limits", limitsText(ev.signer.limits));
}

// --- the log key --------------------------------------------------------------------------------

function currentKey(proof) {
  if (page.pastedKey) return { text: page.pastedKey, origin: "pasted" };
  if (page.serverKey && page.serverKey.text) return { text: page.serverKey.text, origin: "server" };
  if (proof && typeof proof.verifier_key === "string")
    return { text: proof.verifier_key, origin: "proof" };
  return null;
}

function renderKey() {
  const key = currentKey(page.last?.proof);
  const origin = $("key-origin");
  const current = $("key-current");
  const note = $("key-note");
  origin.replaceChildren();
  note.replaceChildren();
  if (!key) {
    origin.textContent = page.serverKey?.error ? t("ui.key_unavailable") : t("ui.key_loading");
    current.textContent = "";
    current.hidden = true;
    return;
  }
  current.hidden = false;
  current.textContent = key.text;
  origin.append(
    el("strong", { text: t("ui.key_origin_label") + " " }),
    t(`ui.key_origin_${key.origin}`),
  );
  origin.dataset.origin = key.origin;
  note.textContent = t(`ui.key_note_${key.origin}`);
  const proofKey = page.last?.proof?.verifier_key;
  if (proofKey && proofKey !== key.text)
    note.append(" ", el("strong", { text: t("ui.key_differs_from_proof") }));
}

async function useKey() {
  const input = $("key-paste");
  const text = input.value.trim();
  fieldError(input, $("key-paste-error"), null);
  try {
    await core.parseVerifierKey(text);
  } catch (exc) {
    const error =
      exc instanceof core.VerifyError
        ? { key: `err.${exc.code}`, params: exc.params }
        : { text: String(exc) };
    fieldError(input, $("key-paste-error"), error);
    input.focus();
    return;
  }
  page.pastedKey = text;
  renderKey();
  if (page.last) await runVerification();
}

async function resetKey() {
  page.pastedKey = null;
  $("key-paste").value = "";
  fieldError($("key-paste"), $("key-paste-error"), null);
  renderKey();
  if (page.last) await runVerification();
}

/** The block explorers this service names per chain, to link a payout's transaction (links
 * only: the page never fetches anything from an explorer). Without them, hashes stay text. */
async function loadExplorers() {
  try {
    const resp = await fetch(`${API}/v1/chains`, { credentials: "omit", cache: "no-store" });
    if (!resp.ok) return;
    const body = await resp.json();
    for (const chain of Array.isArray(body.chains) ? body.chains : []) {
      if (Number.isSafeInteger(chain.chain_id) && typeof chain.explorer_tx_url === "string")
        page.explorers[chain.chain_id] = chain.explorer_tx_url;
    }
  } catch {
    /* no links then */
  }
}

/** A payout transaction's receipt from this service's chain node (GET
 * /v1/chains/<id>/transactions/<tx>), for payout.js to judge; same origin, no credentials.
 * The service's problems are told apart by their code; anything else (the network, a rate
 * limit, an answer that is not JSON) leaves the check not made. */
async function fetchReceipt(chainId, tx) {
  const path = `${encodeURIComponent(chainId)}/transactions/${encodeURIComponent(tx)}`;
  const opts = {
    headers: { Accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  };
  let resp;
  try {
    resp = await fetch(`${API}/v1/chains/${path}`, opts);
  } catch {
    return { skip: "unreachable" };
  }
  let body;
  try {
    body = await resp.json();
  } catch {
    return { skip: "unreachable" };
  }
  if (resp.ok) return { answer: body };
  const code = body?.code;
  if (resp.status === 404 && code === "TX_NOT_FOUND") return { missing: true };
  if (resp.status === 404 && code === "CHAIN_NOT_SERVED") return { skip: "other_chain" };
  if (resp.status === 503 && code === "NO_CHAIN_NODE") return { skip: "no_node" };
  return { skip: "unreachable" };
}

async function loadServerKey() {
  try {
    const resp = await fetch(`${API}/v1/log/keys`, { credentials: "omit", cache: "no-store" });
    if (!resp.ok) throw new Error(String(resp.status));
    const body = await resp.json();
    page.serverKey = { text: String(body.verifier_key || "") };
  } catch (exc) {
    page.serverKey = { error: String(exc) };
  }
  renderKey();
}

// --- getting the proof ------------------------------------------------------------------------

function setBusy(busy) {
  page.busy = busy;
  $("submit").disabled = busy;
  $("bundle").disabled = busy;
  $("results").setAttribute("aria-busy", busy ? "true" : "false");
}

/**
 * Say what is wrong with a field right below it: ``error`` is {key, params} (re-said when the
 * language changes) or {text}; null clears it. The message is the field's description
 * (aria-describedby) and an alert; the field is marked invalid.
 */
function fieldError(input, box, error) {
  delete box.dataset.errorKey;
  delete box.dataset.errorParams;
  if (!error) {
    box.textContent = "";
    box.hidden = true;
    input.removeAttribute("aria-invalid");
    return;
  }
  if (error.key) {
    box.dataset.errorKey = error.key;
    box.dataset.errorParams = JSON.stringify(error.params || {});
    box.textContent = t(error.key, error.params || {});
  } else {
    box.textContent = error.text;
  }
  box.hidden = false;
  input.setAttribute("aria-invalid", "true");
}

/** Put the reader on a field that needs correcting, its message in view with it. */
function focusField(input) {
  input.focus({ preventScroll: true });
  input.closest(".field")?.scrollIntoView({ block: "nearest" });
}

/** Forget the result shown: a new check starts from nothing. */
function clearResults() {
  page.last = null;
  page.result = null;
  const box = $("results");
  box.replaceChildren();
  box.hidden = true;
  delete box.dataset.ready;
  renderKey();
}

// Answers of the proof request that say which field is wrong.
const SECRET_REFUSED = [401, 403];
const REFERENCE_REFUSED = [400, 404, 422];

async function onSubmit(event) {
  event.preventDefault();
  if (page.busy) return;
  const refInput = $("ref");
  const secretInput = $("secret");
  clearProgress();
  fieldError(secretInput, $("secret-error"), null);
  let reference;
  try {
    reference = core.parseReference(refInput.value);
  } catch (exc) {
    fieldError(refInput, $("ref-error"), { key: `err.${exc.code}`, params: exc.params });
    focusField(refInput);
    return;
  }
  fieldError(refInput, $("ref-error"), null);
  refInput.value = reference;
  const secret = secretInput.value.trim();
  const headers = { Accept: "application/json" };
  if (secret) headers.Authorization = `Bearer ${secret}`;
  const opts = { headers, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  clearResults();
  setBusy(true);
  showProgress(t("ui.fetching"));
  try {
    let resp;
    try {
      resp = await fetch(`${API}/v1/complaints/${encodeURIComponent(reference)}/proof`, opts);
    } catch {
      showProgress(t("http.network"), "error");
      return;
    }
    if (!resp.ok) {
      const status = resp.status;
      const known = [...SECRET_REFUSED, ...REFERENCE_REFUSED, 429].includes(status);
      const error = { key: known ? `http.${status}` : "http.other", params: { status } };
      if (SECRET_REFUSED.includes(status)) {
        showProgress("");
        fieldError(secretInput, $("secret-error"), error);
        focusField(secretInput);
      } else if (REFERENCE_REFUSED.includes(status)) {
        showProgress("");
        fieldError(refInput, $("ref-error"), error);
        focusField(refInput);
      } else {
        showProgress(t(error.key, error.params), "error");
      }
      return;
    }
    let proof;
    try {
      proof = await resp.json();
    } catch {
      showProgress(t("http.not_json"), "error");
      return;
    }
    let server = null;
    if (secret) {
      try {
        const st = await fetch(
          `${API}/v1/complaints/${encodeURIComponent(reference)}?lang=${page.lang}`,
          opts,
        );
        if (st.ok) server = await st.json();
      } catch {
        /* the status is only compared, never needed */
      }
    }
    secretInput.value = ""; // not kept around once used
    page.last = {
      proof,
      source: "api",
      expectedReference: reference,
      server,
      withSecret: !!secret,
    };
    await runVerification();
  } finally {
    setBusy(false);
  }
}

async function onBundle(file) {
  if (!file || page.busy) return;
  clearProgress();
  clearResults();
  setBusy(true);
  showProgress(t("ui.reading_bundle"), "info", "progress");
  try {
    let proof, attachments;
    try {
      // Its proof.json, in the current format (a format-1 bundle's base64 hashes read as hex),
      // and its attached files checked against the bodies that list them.
      ({ proof, attachments } = await core.readBundleProof(await file.arrayBuffer()));
    } catch (exc) {
      showProgress(
        exc instanceof core.VerifyError ? t(`err.${exc.code}`, exc.params) : String(exc),
        "error",
        "progress",
      );
      return;
    }
    page.last = {
      proof,
      attachments,
      source: "bundle",
      expectedReference: null,
      server: null,
      fileName: file.name,
    };
    await runVerification();
  } finally {
    setBusy(false);
    $("bundle").value = "";
  }
}

async function runVerification() {
  const { proof, expectedReference, server, source } = page.last;
  const box = source === "bundle" ? "progress" : "form-status";
  const key = currentKey(proof);
  page.keyUsed = key;
  renderKey();
  showProgress(t("ui.verifying"), "info", box);
  page.result = await core.verifyProof(proof, key ? key.text : "", {
    expectedReference,
    serverStatus: server && typeof server.status === "string" ? server.status : null,
    receipts: fetchReceipt,
  });
  if (page.last.attachments) core.addAttachmentChecks(page.result, page.last.attachments);
  showProgress("", "info", box);
  renderResults();
  const heading = $("verdict-title");
  if (heading) {
    heading.focus({ preventScroll: true });
    $("verdict").scrollIntoView({ block: "start" }); // the whole verdict box, its border too
  }
}

// --- results ------------------------------------------------------------------------------------

function section(id, titleKey, ...children) {
  return el(
    "section",
    { class: "card", id, "aria-labelledby": `${id}-title` },
    el("h2", { id: `${id}-title`, text: t(titleKey) }),
    ...children,
  );
}

function dl(rows) {
  const list = el("dl", { class: "facts" });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("div", { class: "fact" }, el("dt", { text: label }), el("dd", {}, value)));
  }
  return list;
}

const code = (text) => el("code", { class: "hash", text });

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/** A chain in words: a development chain says so (no explorer knows it). */
function chainName(chainId) {
  if (!Number.isSafeInteger(chainId)) return "—";
  return t(DEV_CHAINS.has(chainId) ? "ui.chain_dev" : "ui.chain", { chain: chainId });
}

/** A chain id as a fact's value: the number, or a development chain said to be one. */
function chainValue(chainId) {
  if (!Number.isSafeInteger(chainId)) return "—";
  return DEV_CHAINS.has(chainId) ? t("ui.chain_dev", { chain: chainId }) : String(chainId);
}

/** A transaction hash, linked to its chain's block explorer when this service names one and
 * the chain is not a local development chain. */
function txLink(chainId, tx) {
  const template = page.explorers[chainId];
  if (DEV_CHAINS.has(chainId)) return code(tx);
  if (typeof template !== "string" || typeof tx !== "string" || !TX_HASH.test(tx)) return code(tx);
  let url;
  try {
    url = new URL(template.replaceAll("{tx}", tx));
  } catch {
    return code(tx);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return code(tx);
  return el(
    "a",
    {
      href: url.href,
      class: "hash explorer",
      rel: "noopener noreferrer",
      target: "_blank",
      title: t("ui.explorer_link"),
      "data-explorer": "true",
    },
    tx,
  );
}

/** The anchor in a few words: state, chain, confirmations. */
function anchorText(a) {
  if (!a) return t("ui.anchor_none_short");
  return t("ui.anchor_short", {
    state: a.state,
    chain: chainName(a.chain_id),
    confirmations: plural("confirmations", a.confirmations ?? 0),
  });
}

/** The record's current status (and outcome) in a sentence. */
function statusSentence(state) {
  if (!state) return null;
  const status = t("verdict.status", { status: state.status });
  return state.outcome
    ? `${status} ${t("verdict.outcome", { outcome: vocab("outcome", state.outcome) })}`
    : status;
}

// Anchor states that will not change any more (a superseded anchor was followed by a later one).
const FINAL_ANCHOR = ["confirmed", "superseded"];

function renderVerdict(r) {
  const failed = r.categories.filter((c) => c.status === "fail");
  const status = r.ok ? "ok" : "fail";
  const title = r.ok ? t("verdict.ok") : t("verdict.fail");
  const text = el("div", { class: "verdict-text" });
  const box = el(
    "div",
    { class: `verdict verdict-${status}`, id: "verdict", "data-verdict": status },
    el("span", { class: "verdict-icon", "aria-hidden": "true", text: ICON[status] }),
    text,
  );
  text.append(el("h2", { id: "verdict-title", tabindex: "-1", text: title }));
  if (r.ok) {
    // The plain summary: what was found, in one breath, before any technical word.
    const sentences = [t("verdict.ok_plain", { steps: plural("steps", r.events.length) })];
    // Said only of an anchor that is final and proven to contain this record.
    const a = r.anchor;
    if (a && a.consistency === "ok" && FINAL_ANCHOR.includes(a.state))
      sentences.push(t("verdict.anchored", { anchor: anchorText(a) }));
    const state = statusSentence(r.state);
    if (state) sentences.push(state);
    text.append(
      el("p", { id: "verdict-summary", class: "verdict-summary", text: sentences.join(" ") }),
    );
  } else {
    text.append(
      el("p", {
        id: "verdict-summary",
        class: "verdict-summary",
        text: t("verdict.fail_detail", { failed: plural("failed_checks", failed.length) }),
      }),
      el(
        "ul",
        { class: "failed-list" },
        // Each named as its row below is, marked failed (the name states what was expected).
        failed.map((c) => el("li", {}, mark("fail"), " ", t(`plain.${c.id}`))),
      ),
    );
  }
  const caveats = [];
  const cat = (id) => r.categories.find((c) => c.id === id);
  if (cat("commitments")?.items.every((i) => i.status === "skip"))
    caveats.push(t("caveat.no_bodies"));
  if (!r.anchor) caveats.push(t("caveat.anchor_none"));
  else if (r.anchor.state === "pending") caveats.push(t("caveat.anchor_pending"));
  if (page.keyUsed?.origin === "server") caveats.push(t("caveat.key_server"));
  if (page.keyUsed?.origin === "proof") caveats.push(t("caveat.key_proof"));
  // A Paid event judged from a receipt this service relayed: as far as its node is honest.
  if ((r.payouts || []).some((p) => p.onchain === "ok" || p.onchain === "fail"))
    caveats.push(t("caveat.payout_receipt_server"));
  if (caveats.length) {
    text.append(
      el("p", { class: "caveats-title", text: t("caveat.title") }),
      el(
        "ul",
        { class: "caveats" },
        caveats.map((c) => el("li", { text: c })),
      ),
    );
  }
  return box;
}

/** A translated text whose {command} is shown as that command, in code (never broken). */
function withCommand(text, command) {
  const parts = text.split("{command}");
  const shown = () => el("code", { class: "command", text: command });
  return parts.flatMap((part, i) => (i ? [shown(), part] : [part]));
}

/** A payment as the summary shows it: its amount, and its kind unless it is money. */
function paidText(fields) {
  const amount = formatAmount(fields) || "—";
  const kind = fields.kind ?? rulebook().money.default_kind;
  if (kind === rulebook().money.default_kind) return amount;
  return `${amount} (${vocab("compensation_kind", kind)})`;
}

const stepId = (seq) => `step-${seq}`;

/** A link to a step of the timeline: "step 6 (Decision)". */
function stepLink(ev) {
  const type = ev.env?.type || ev.type;
  return el("a", { href: `#${stepId(ev.seq)}`, text: t("ui.event_ref", { seq: ev.seq, type }) });
}

function renderSummary(r) {
  const last = page.last;
  const state = r.state;
  const rows = [
    [t("field.reference"), r.reference ? code(r.reference) : null],
    [
      t("field.source"),
      last.source === "bundle"
        ? t("ui.source_bundle", { file: last.fileName || "" })
        : t("ui.source_api"),
    ],
    [t("field.status"), state ? vocab("status", state.status) : "—"],
  ];
  if (last.server?.status_text) rows.push([t("field.server_status_text"), last.server.status_text]);
  if (state?.outcome) {
    const decision = r.events.findLast((ev) => ev.env?.type === "decision");
    const where = decision ? [" · ", stepLink(decision)] : [];
    rows.push([t("field.outcome"), el("span", {}, vocab("outcome", state.outcome), ...where)]);
  }
  if (state?.playbook?.length) {
    const done = state.playbook.map((step) => vocab("playbook_step", step));
    rows.push([t("field.playbook"), done.join(" → ")]);
  }
  if (state?.incident) rows.push([t("field.incident"), code(state.incident)]);
  // Who is responsible now: the latest assignment, unless an escalation cleared it since.
  if (state?.owner) {
    const assigned = r.events.findLast((ev) => ev.env?.type === "assigned");
    if (assigned) {
      const name =
        typeof assigned.body?.owner_name === "string" ? assigned.body.owner_name : state.owner;
      rows.push([t("field.responsible"), el("span", {}, name, " · ", stepLink(assigned))]);
    }
  }
  const paid = r.events.filter((ev) => ev.env?.type === "compensation_paid");
  if (paid.length) {
    rows.push([
      t("field.compensation_paid"),
      paid.map((ev) => paidText(ev.body || ev.env.public)).join(", "),
    ]);
  }
  // A vault payout: what the log authorised and the payment says, as payout.js checked it.
  const payouts = r.payouts || [];
  for (const payout of payouts) {
    const shown = el(
      "span",
      { class: "payout", "data-payout": payout.status, "data-seq": payout.seq },
      mark(payout.status),
      " ",
      paidText(payout.public),
    );
    rows.push([t("field.payout"), shown]);
    if (payout.recipient) rows.push([t("field.recipient"), code(payout.recipient)]);
    if (payout.txHash) rows.push([t("field.payout_tx"), txLink(payout.chainId, payout.txHash)]);
    if (payout.onchain) {
      const onchain = el(
        "span",
        { class: "payout-onchain", "data-onchain": payout.onchain, "data-seq": payout.seq },
        mark(payout.onchain),
      );
      rows.push([t("field.payout_onchain"), onchain]);
    }
  }
  rows.push([t("field.anchor"), anchorText(r.anchor)]);
  rows.push([t("field.events"), plural("steps", r.events.length)]);
  // Not checked for want of the texts (no secret given): say where they are.
  const hidden = payouts.some((p) => p.status === "skip");
  return section(
    "summary",
    "ui.summary_heading",
    r.ok ? null : el("p", { class: "warning", text: t("ui.summary_unverified") }),
    dl(rows),
    payouts.length
      ? el(
          "p",
          { class: "hint", id: "payout-note" },
          ...withCommand(t("ui.payout_onchain"), "ledger-verify-bundle --rpc"),
          hidden ? ` ${t("ui.payout_needs_secret")}` : null,
        )
      : null,
  );
}

/** A foldable row: a <details> whose summary names it, with a visible open/closed marker. */
function foldable(open, summaryChildren, ...content) {
  return el(
    "details",
    { class: "fold", open },
    el(
      "summary",
      {},
      el("span", { class: "fold-marker", "aria-hidden": "true" }),
      ...summaryChildren,
    ),
    ...content,
  );
}

function renderChecks(r) {
  const list = el("ol", { class: "checks" });
  for (const c of r.categories) {
    const ok = c.items.filter((i) => i.status === "ok").length;
    const items = el("ul", { class: "check-items" });
    // In a failed check, the failures come first (the order is otherwise the log's).
    const rank = { fail: 0, skip: 1, ok: 2 };
    const ordered =
      c.status === "fail" ? [...c.items].sort((a, b) => rank[a.status] - rank[b.status]) : c.items;
    for (const item of ordered) {
      const li = el(
        "li",
        {
          "data-status": item.status,
          "data-event": item.event ?? null,
          class: `item item-${item.status}`,
        },
        mark(item.status),
        el("span", { class: "item-label", text: tm(item.label) }),
        item.detail ? el("span", { class: "item-detail", text: tm(item.detail) }) : null,
        item.tech && item.status === "fail"
          ? el("code", { class: "hash tech", text: tm(item.tech) })
          : null,
      );
      items.append(li);
    }
    // The row says it in plain words; the technical name and its terms are inside.
    const details = foldable(
      c.status === "fail",
      [
        mark(c.status),
        el("span", { class: "check-name", text: t(`plain.${c.id}`) }),
        el("span", { class: "check-count", text: t("ui.count", { ok, total: c.items.length }) }),
      ],
      el(
        "p",
        { class: "check-help" },
        el("strong", { class: "check-term", text: t(`cat.${c.id}.name`) }),
        ": ",
        t(`cat.${c.id}.help`),
      ),
      items,
    );
    list.append(
      el(
        "li",
        { class: `check check-${c.status}`, "data-check": c.id, "data-status": c.status },
        details,
      ),
    );
  }
  return section(
    "checks",
    "ui.checks_heading",
    el("p", { class: "hint", text: t("ui.checks_intro") }),
    list,
  );
}

const MARK_NAMES = ["inclusion", "chain", "rules", "commitment", "authority", "signature"];

function eventStatus(ev) {
  const values = Object.values(ev.marks);
  if (values.includes("fail")) return "fail";
  // A step counts as verified only once it is proven to be in the signed log.
  return ev.marks.inclusion === "ok" ? "ok" : "skip";
}

/** The letter a step committed (body.message), or the text a sent message delivered. */
function letter(ev) {
  const b = ev.body;
  const sent = ev.env?.type === "message_sent";
  const m = sent ? b : b?.message;
  if (!m || typeof m !== "object" || typeof m.text !== "string") return null;
  const language = sent ? ev.env.public.language : m.language;
  return el(
    "details",
    { class: "letter fold" },
    el(
      "summary",
      {},
      el("span", { class: "fold-marker", "aria-hidden": "true" }),
      t("ui.letter_summary", { subject: m.subject || "" }),
    ),
    el("p", { class: "letter-text", lang: language || null, text: m.text }),
  );
}

/** A sent message in words: "Letter sent by email: decision (Portuguese), delivered." */
function messageSentence(p) {
  const params = {
    channel: vocab("delivery_channel", p.channel),
    template: vocab("letter_kind", p.template),
    language: languageName(p.language),
    attempts: plural("attempts", Number.isSafeInteger(p.attempts) ? p.attempts : 1),
  };
  return t(p.outcome === "failed" ? "ui.message_failed" : "ui.message_delivered", params);
}

/** An assignment in words: "Assigned to Ana Silva" (the display name when the body is
 * revealed, the pseudonym on the record otherwise), with the claim/assign/reassign wording. */
function assignmentSentence(ev) {
  const name = typeof ev.body?.owner_name === "string" ? ev.body.owner_name : ev.env.public.owner;
  const how = ["claim", "assign", "reassign"].includes(ev.env.public.how)
    ? ev.env.public.how
    : "assign";
  return t(`ui.assigned_${how}`, { name });
}

/** Whether the sent text is the one the step committed to (checked by the verifier core). */
function messageTextCheck(ev) {
  const s = ev.marks.commitment;
  if (s === "ok" && ev.body) return mark("ok", t("ui.message_text_ok"));
  if (s === "fail") return mark("fail", t("ui.message_text_fail"));
  return mark("skip", t(ev.erased ? "ui.erased" : "ui.message_text_needs_secret"));
}

function eventFacts(ev, r) {
  const env = ev.env;
  if (!env) return null;
  const p = env.public;
  const b = ev.body || {};
  const rows = [];
  const add = (key, value) => rows.push([t(`field.${key}`), value]);
  const bySeq = (seq) => r.events.find((e) => e.seq === seq);
  const seqOf = (hash) => {
    const found = r.events.find((e) => e.hash && core.hexencode(e.hash) === hash);
    return found
      ? t("ui.event_ref", { seq: found.seq, type: found.env?.type || found.type })
      : hash;
  };
  switch (env.type) {
    case "received":
      add("category", vocab("category", p.category));
      add("channel", vocab("channel", p.channel));
      if (b.description) add("description", b.description);
      if (b.transaction) add("transaction", code(b.transaction));
      if (b.contact && typeof b.contact === "object") {
        const who = [b.contact.name, b.contact.email].filter((x) => typeof x === "string");
        if (who.length) add("contact", who.join(", "));
        add("consent", t(b.contact.consent === true ? "ui.consent_yes" : "ui.consent_no"));
      }
      break;
    case "acknowledged":
      if (b.responsible) add("responsible", b.responsible);
      if (b.paragraph) add("paragraph", b.paragraph);
      break;
    case "assigned":
      add("owner", code(p.owner));
      break;
    case "info_requested":
      if (b.request) add("request", b.request);
      if (p.respond_by) add("respond_by", timeEl(p.respond_by));
      break;
    case "info_received":
      if (b.text) add("text", b.text);
      if (Array.isArray(b.attachments)) add("attachments", String(b.attachments.length));
      break;
    case "evidence_added":
      if (p.kind) add("kind", vocab("evidence_kind", p.kind));
      if (b.description) add("description", b.description);
      break;
    case "note_added":
      add("note", t("ui.internal_note"));
      break;
    case "escalated":
      add("level", vocab("level", p.level));
      if (p.specialism) add("specialism", vocab("specialism", p.specialism));
      if (p.reason) add("reason", vocab("escalation_reason", p.reason));
      break;
    case "holding_reply":
      if (b.reason) add("reason", b.reason);
      break;
    case "decision":
      add("outcome", vocab("outcome", b.outcome ?? p.outcome));
      if (b.finding) add("finding", b.finding);
      add("rules", (b.rules ?? p.rules ?? []).join("; "));
      add("root_cause", vocab("root_cause", b.root_cause ?? p.root_cause));
      if (b.remedy) add("remedy", b.remedy);
      if ((p.evidence || []).length) {
        add(
          "evidence",
          el(
            "ul",
            { class: "plain" },
            p.evidence.map((h) => el("li", { text: seqOf(h) })),
          ),
        );
      }
      addSigners(ev, add);
      break;
    case "compensation_offered":
    case "compensation_paid": {
      const src = ev.body || p;
      // A step that names no kind is money (the rulebook's default kind).
      const kind = src.kind ?? rulebook().money.default_kind;
      add("compensation_kind", vocab("compensation_kind", kind));
      add("amount", formatAmount(src) || t("ui.not_public"));
      add("method", vocab("method", src.method));
      if (p.identity_required === true) add("identity_required", t("ui.required"));
      if (b.respond_by) add("respond_by", timeEl(b.respond_by));
      if (b.payment_reference) add("payment_reference", code(b.payment_reference));
      // On chain: where and in what (a vault offer's terms, or what a payment paid).
      if (Number.isSafeInteger(b.chain_id)) {
        add("chain_id", chainValue(b.chain_id));
        if (typeof b.vault === "string") add("vault", code(b.vault));
        add("token", typeof b.token === "string" ? code(b.token) : t("ui.native_coin"));
      }
      if (typeof b.recipient === "string") add("recipient", code(b.recipient));
      if (b.tx_hash) add("tx_hash", txLink(b.chain_id, b.tx_hash));
      addSigners(ev, add);
      break;
    }
    case "compensation_accepted":
      // The address the customer gave and confirmed for a vault payout.
      if (typeof b.recipient === "string") add("recipient", code(b.recipient));
      break;
    case "compensation_declined":
      if (p.reason) add("reason", vocab("decline_reason", p.reason));
      break;
    case "closed":
      if (p.reason) add("reason", vocab("close_reason", p.reason));
      break;
    case "reopened":
      if (p.reason) add("reason", vocab("reopen_reason", p.reason));
      break;
    case "referred":
      add("referred_to", vocab("referral_target", p.to));
      if (p.scheme) add("scheme", p.scheme);
      break;
    case "rated": {
      add("csat", `${p.csat} / 5`);
      const rated = bySeq(p.rates);
      const type = rated?.env?.type || rated?.type;
      if (Number.isSafeInteger(p.rates))
        add("rates", type ? t("ui.event_ref", { seq: p.rates, type }) : String(p.rates));
      break;
    }
    case "nps_given":
      add("nps", `${p.nps} / 10`);
      break;
    case "message_sent": {
      const about = bySeq(p.for_seq);
      if (about) add("for_step", stepLink(about));
      if (typeof b.to === "string") add("sent_to", b.to);
      if (p.outcome === "failed") add("delivery", t("ui.message_not_delivered"));
      add("message_text", messageTextCheck(ev));
      break;
    }
    case "identity_verified":
      add("identity_method", vocab("identity_method", p.method));
      if (b.check_reference) add("check_reference", code(b.check_reference));
      break;
    case "playbook_step":
      add("step", vocab("playbook_step", p.step));
      if (p.confirmation) add("confirmation", vocab("confirmation", p.confirmation));
      if (p.confirm_by) add("confirm_by", timeEl(p.confirm_by));
      break;
    case "target_set":
      add("target", t("ui.minutes", { n: p.target_minutes }));
      add("limit", t("ui.minutes", { n: p.limit_minutes }));
      break;
    case "incident_linked":
      add("incident", code(p.incident));
      if (b.title) add("incident_title", b.title);
      break;
    case "bundle_exported":
      add("bundle_sha256", code(p.bundle_sha256));
      add("tree_size", String(p.tree_size));
      break;
    case "erased":
      add("erases", seqOf(p.erases));
      add("basis", vocab("erasure_basis", p.basis));
      break;
    default:
      break;
  }
  return rows.length ? dl(rows) : null;
}

/** What a step without its private text cannot show, said where the text would be. */
function missingText(ev) {
  const type = ev.env?.type;
  if (type !== "decision" || ev.body) return null;
  const key = ev.marks.commitment === "fail" ? "ui.text_failed" : "ui.decision_needs_secret";
  return el("p", { class: "hint", text: t(key) });
}

/** The checks of one step, folded: each aspect with its mark, in words. */
function stepChecks(ev) {
  const chips = el("ul", { class: "chips", "aria-label": t("ui.event_checks") });
  for (const name of MARK_NAMES) {
    const s = ev.marks[name];
    if (!s) continue;
    chips.append(
      el(
        "li",
        { class: `chip chip-${s}`, "data-aspect": name, "data-status": s },
        el("span", { class: "icon", "aria-hidden": "true", text: ICON[s] }),
        el("span", { text: t(`aspect.${name}`) }),
        el("span", { class: "sr-only", text: `: ${t(`mark.${s}`)}` }),
      ),
    );
  }
  const failed = Object.values(ev.marks).includes("fail");
  return el(
    "details",
    { class: "step-checks fold", open: failed },
    el(
      "summary",
      {},
      el("span", { class: "fold-marker", "aria-hidden": "true" }),
      t("ui.event_checks"),
    ),
    chips,
  );
}

function renderTimeline(r) {
  const list = el("ol", { class: "timeline" });
  for (const ev of r.events) {
    const status = eventStatus(ev);
    const type = ev.env?.type || ev.type;
    const head = el(
      "div",
      { class: "event-head" },
      el(
        "h3",
        { class: "event-title" },
        el("span", { class: "seq", text: `${ev.seq}.` }),
        " ",
        vocab("type", type),
        // Which playbook step, at a glance: every step of the playbook has the same type.
        type === "playbook_step" && ev.env
          ? ` · ${vocab("playbook_step", ev.env.public.step)}`
          : null,
      ),
      mark(status),
    );
    const meta = el(
      "p",
      { class: "event-meta" },
      ev.env ? timeEl(ev.env.at) : null,
      ev.env ? ` · ${vocab("role", ev.env.actor.role)}` : null,
      ev.erased ? ` · ${t("ui.erased")}` : null,
    );
    let lead = null;
    if (type === "message_sent" && ev.env)
      lead = el("p", { class: "event-lead", text: messageSentence(ev.env.public) });
    if (type === "assigned" && ev.env)
      lead = el("p", { class: "event-lead", text: assignmentSentence(ev) });
    list.append(
      el(
        "li",
        {
          class: `event event-${status}`,
          id: Number.isSafeInteger(ev.seq) ? stepId(ev.seq) : null,
          "data-seq": ev.seq,
          "data-type": type,
          "data-status": status,
        },
        head,
        meta,
        lead,
        eventFacts(ev, r),
        missingText(ev),
        letter(ev),
        stepChecks(ev),
      ),
    );
  }
  return section(
    "timeline",
    "ui.timeline_heading",
    el("p", { class: "hint", id: "time-zone", text: t("ui.times_zone", { zone: zoneName() }) }),
    list,
  );
}

function renderAnchor(r) {
  const a = r.anchor;
  const cat = r.categories.find((c) => c.id === "anchor");
  if (!a) {
    return section(
      "anchor",
      "ui.anchor_heading",
      el("p", {}, mark("skip"), " ", t("ui.anchor_none")),
    );
  }
  // Verified only when the anchored tree is proven to contain this checkpoint.
  const anchorStatus =
    cat.status === "fail" ? "fail" : cat.status === "ok" && a.consistency === "ok" ? "ok" : "skip";
  const rows = [
    [t("field.anchor_state"), mark(anchorStatus, vocab("anchor_state", a.state))],
    [t("field.confirmations"), String(a.confirmations ?? 0)],
    [t("field.chain_id"), chainValue(a.chain_id)],
    [t("field.contract"), a.contract ? code(a.contract) : "—"],
    [t("field.tx_hash"), a.tx_hash ? txLink(a.chain_id, a.tx_hash) : "—"],
    [
      t("field.block_number"),
      a.block_number === null || a.block_number === undefined ? "—" : String(a.block_number),
    ],
    [t("field.anchored_size"), String(a.anchored_size ?? "—")],
    [t("field.anchored_root"), a.anchored_root ? code(a.anchored_root) : "—"],
    [t("field.consistency"), mark(a.consistency)],
  ];
  const explain = DEV_CHAINS.has(a.chain_id)
    ? t("ui.anchor_dev_chain", { chain: a.chain_id })
    : t("ui.anchor_explain", { chain: a.chain_id ?? "—" });
  return section(
    "anchor",
    "ui.anchor_heading",
    el("p", { class: "anchor-plain" }, anchorText(a)),
    foldable(false, [t("ui.anchor_details")], dl(rows), el("p", { class: "hint", text: explain })),
  );
}

function renderTechnical(r) {
  const cp = r.checkpoint;
  const rows = [
    [t("field.key_used"), page.keyUsed ? code(page.keyUsed.text) : "—"],
    [t("field.key_origin"), page.keyUsed ? t(`ui.key_origin_${page.keyUsed.origin}`) : "—"],
  ];
  if (cp) {
    rows.push([t("field.log_origin"), code(cp.origin)]);
    rows.push([t("field.tree_size"), String(cp.size)]);
    rows.push([t("field.root"), code(core.hexencode(cp.root))]);
    if (cp.otherSignatures) rows.push([t("field.other_signatures"), String(cp.otherSignatures)]);
  }
  const note = page.last?.proof?.checkpoint?.note;
  return el(
    "section",
    { class: "card", id: "technical", "aria-labelledby": "technical-title" },
    el("h2", { id: "technical-title", text: t("ui.technical_heading") }),
    foldable(
      false,
      [t("ui.technical_summary")],
      dl(rows),
      typeof note === "string" ? el("pre", { class: "note", text: note }) : null,
    ),
  );
}

function renderResults() {
  const r = page.result;
  const box = $("results");
  // The verdict and its plain summary first; what happened once; the checks folded below.
  box.replaceChildren(
    renderVerdict(r),
    renderSummary(r),
    renderTimeline(r),
    renderChecks(r),
    renderAnchor(r),
    renderTechnical(r),
  );
  box.hidden = false;
  box.dataset.ready = "true";
}

// --- wiring -----------------------------------------------------------------------------------

function updateSecretToggle() {
  const shown = $("secret").type === "text";
  const button = $("toggle-secret");
  button.textContent = t(shown ? "ui.hide_secret" : "ui.show_secret");
  button.setAttribute("aria-pressed", shown ? "true" : "false");
}

function wire() {
  $("form").addEventListener("submit", onSubmit);
  $("lang").addEventListener("change", (e) => setLanguage(e.target.value));
  $("toggle-secret").addEventListener("click", () => {
    const input = $("secret");
    input.type = input.type === "password" ? "text" : "password";
    updateSecretToggle();
  });
  // A field being corrected is no longer marked wrong.
  $("secret").addEventListener("input", () => fieldError($("secret"), $("secret-error"), null));
  $("ref").addEventListener("input", () => fieldError($("ref"), $("ref-error"), null));
  $("bundle").addEventListener("change", (e) => onBundle(e.target.files[0]));
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => {
      e.preventDefault();
      drop.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("dragging"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    onBundle(e.dataTransfer?.files?.[0]);
  });
  $("key-use").addEventListener("click", useKey);
  $("key-reset").addEventListener("click", resetKey);
}

/**
 * What the address may give: a reference to check (?reference=, or ?ref=), never a secret. A
 * secret= parameter is not read, and is taken out of the address (and so of the history).
 */
function readAddress() {
  const params = new URLSearchParams(location.search);
  if (params.has("secret")) {
    params.delete("secret");
    const query = params.toString();
    const address = `${location.pathname}${query ? `?${query}` : ""}${location.hash}`;
    history.replaceState(history.state, "", address);
  }
  const ref = (params.get("reference") ?? params.get("ref") ?? "").trim().slice(0, 100);
  if (ref) $("ref").value = ref; // a reference is not secret
}

async function main() {
  readAddress();
  wire();
  await setLanguage(pickLanguage());
  await core.loadRules(); // once: a bundle dropped later is verified without the network
  await Promise.all([loadServerKey(), loadExplorers()]);
  document.body.dataset.ready = "true";
}

main().catch((exc) => {
  showProgress(String(exc), "error");
});
