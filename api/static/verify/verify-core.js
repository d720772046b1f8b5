// Complaint proof verification in the browser: no DOM, no server trust, WebCrypto only.
//
// Implements the checks of ledger/verify/complaint.py (verify_complaint_proof) on the JSON of
// GET /v1/complaints/<ref>/proof: C2SP signed-note checkpoint, RFC 9162 inclusion and
// consistency proofs, the RFC 8785 event envelopes, the per-complaint hash chain and state
// machine, salted commitments, officer keys (log entries) and Ed25519 body signatures with
// their authority at signing time, and the blockchain anchor record.
//
// verifyProof() returns a report: categories of checks, each item "ok", "fail" or "skip"
// (not checked, with the reason), with message keys and parameters for translation.

const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true });

export class VerifyError extends Error {
  constructor(code, params = {}) {
    super(code);
    this.code = code;
    this.params = params;
  }
}
const fail = (code, params) => {
  throw new VerifyError(code, params);
};

// --- bytes -----------------------------------------------------------------------------

export const utf8 = (s) => te.encode(s);

export function concat(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function b64decode(s) {
  if (typeof s !== "string" || s.length % 4 !== 0 || !B64.test(s)) fail("base64");
  let bin;
  try {
    bin = atob(s);
  } catch {
    fail("base64");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function hexdecode(s) {
  if (typeof s !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(s)) fail("hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** A hash as our JSON carries it: 64 lowercase hex digits (docs/spec/encoding.md). */
export function hashdecode(s) {
  if (typeof s !== "string" || !/^[0-9a-f]{64}$/.test(s)) fail("hex");
  return hexdecode(s);
}

export const hexencode = (bytes) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// --- RFC 8785 (JCS) ----------------------------------------------------------------------

// ECMAScript number and string serialisation is what RFC 8785 prescribes; keys are sorted by
// UTF-16 code units, which is what Array.prototype.sort does for strings.
export function canonicalJson(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) fail("not_canonical");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(value[k])).join(",") + "}";
}

/** Parse JSON text that must already be in RFC 8785 form (so hashes cannot be re-encoded). */
export function parseCanonical(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail("not_json");
  }
  if (canonicalJson(value) !== text) fail("not_canonical");
  return value;
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// --- RFC 6962 / RFC 9162 Merkle trees ---------------------------------------------------------

export const leafHash = (data) => sha256(concat(Uint8Array.of(0), data));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

function checkHash(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== 32) fail("not_a_hash", { what });
}

function treeInt(value, code) {
  if (!Number.isSafeInteger(value) || value < 0) fail(code);
  return BigInt(value);
}

/** RFC 9162 2.1.3.2: the root an inclusion proof leads to. */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  const idx = treeInt(index, "bad_index");
  const sz = treeInt(size, "bad_size");
  if (!(idx < sz)) fail("index_out_of_range", { index, size });
  checkHash(leaf, "leaf");
  let fn = idx;
  let sn = sz - 1n;
  let r = leaf;
  for (const p of proof) {
    checkHash(p, "proof node");
    if (sn === 0n) fail("proof_too_long");
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0n && (fn & 1n) === 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("proof_too_short");
  return r;
}

export async function verifyInclusion(index, size, leaf, proof, root) {
  checkHash(root, "root");
  const got = await rootFromInclusionProof(index, size, leaf, proof);
  if (!equalBytes(got, root)) fail("inclusion_mismatch");
}

/** RFC 9162 2.1.4.2: (size1, root1) is a prefix of (size2, root2). Throws VerifyError. */
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  const s1 = treeInt(size1, "bad_size");
  const s2 = treeInt(size2, "bad_size");
  if (s2 < s1) fail("consistency_sizes", { size1, size2 });
  if (s1 === 0n) fail("consistency_from_empty");
  if (s1 === s2) {
    if (proof.length) fail("consistency_equal_nonempty");
    if (!equalBytes(root1, root2)) fail("consistency_roots_differ");
    return;
  }
  checkHash(root1, "first root");
  checkHash(root2, "second root");
  proof.forEach((p) => checkHash(p, "proof node"));
  if (!proof.length) fail("consistency_empty");
  const path = [...proof];
  if ((s1 & (s1 - 1n)) === 0n) path.unshift(root1);
  let fn = s1 - 1n;
  let sn = s2 - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) fail("proof_too_long");
    if (fn & 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn !== 0n && (fn & 1n) === 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("proof_too_short");
  if (!equalBytes(fr, root1)) fail("consistency_first_root");
  if (!equalBytes(sr, root2)) fail("consistency_second_root");
}

// --- Ed25519 and C2SP signed notes --------------------------------------------------------

export async function importEd25519(raw) {
  try {
    return await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } catch (exc) {
    if (exc && exc.name === "NotSupportedError") fail("no_ed25519");
    fail("bad_public_key");
  }
}

export async function ed25519Verify(key, signature, message) {
  if (signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

const SIG_PREFIX = "\u2014 ";
const validName = (n) => typeof n === "string" && n.length > 0 && !/[\s+]/.test(n);

/** A C2SP verifier key ``name+hexkeyid+base64(0x01||pubkey)``. Throws VerifyError. */
export async function parseVerifierKey(text) {
  const vkey = String(text || "").trim();
  const i1 = vkey.indexOf("+");
  const i2 = i1 < 0 ? -1 : vkey.indexOf("+", i1 + 1);
  if (i1 < 0 || i2 < 0) fail("vkey_format");
  const name = vkey.slice(0, i1);
  const hexId = vkey.slice(i1 + 1, i2);
  if (!validName(name) || !/^[0-9a-fA-F]{8}$/.test(hexId)) fail("vkey_format");
  let raw;
  try {
    raw = b64decode(vkey.slice(i2 + 1));
  } catch {
    fail("vkey_format");
  }
  if (raw.length !== 33 || raw[0] !== 1) fail("vkey_not_ed25519");
  const publicKey = raw.slice(1);
  const digest = await sha256(concat(utf8(name), Uint8Array.of(0x0a, 0x01), publicKey));
  const keyId = hexencode(digest.slice(0, 4));
  if (keyId !== hexId.toLowerCase()) fail("vkey_id_mismatch");
  return { text: vkey, name, keyId, publicKey, cryptoKey: await importEd25519(publicKey) };
}

function checkNoteText(text) {
  if (!text.endsWith("\n")) fail("note_format");
  for (const ch of text) if (ch < " " && ch !== "\n") fail("note_format");
}

/** Split a signed note into its signed text and signature lines (no verification). */
export function splitNote(signed) {
  if (typeof signed !== "string" || !signed.endsWith("\n")) fail("note_format");
  const idx = signed.lastIndexOf("\n\n");
  if (idx < 0) fail("note_format");
  const text = signed.slice(0, idx + 1);
  const block = signed.slice(idx + 2);
  checkNoteText(text);
  const sigs = [];
  for (const line of block ? block.slice(0, -1).split("\n") : []) {
    if (!line.startsWith(SIG_PREFIX)) fail("note_format");
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(" ");
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? "" : rest.slice(sp + 1);
    if (!validName(name) || !b64) fail("note_format");
    const blob = b64decode(b64);
    if (blob.length < 5) fail("note_format");
    sigs.push({ name, keyId: hexencode(blob.slice(0, 4)), signature: blob.slice(4) });
  }
  if (!sigs.length) fail("note_unsigned");
  if (sigs.length > 100) fail("note_format");
  return { text, sigs };
}

/**
 * Verify a signed note against one key: a signature line by that key must verify, and any
 * line by that key that does not is an error; other keys' lines (witnesses) are counted.
 */
export async function openNote(signed, verifier) {
  const { text, sigs } = splitNote(signed);
  const message = utf8(text);
  let good = 0;
  let others = 0;
  for (const sig of sigs) {
    if (sig.name !== verifier.name || sig.keyId !== verifier.keyId) {
      others += 1;
    } else if (await ed25519Verify(verifier.cryptoKey, sig.signature, message)) {
      good += 1;
    } else {
      fail("note_bad_signature");
    }
  }
  if (!good) fail("note_no_known_signature");
  return { text, others };
}

/** Verify the log's signature on a C2SP checkpoint and parse it. Throws VerifyError. */
export async function openCheckpoint(signed, verifier) {
  const { text, others } = await openNote(signed, verifier);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) fail("checkpoint_format");
  const [origin, sizeText, rootText, ...ext] = lines;
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(sizeText)) fail("checkpoint_format");
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail("checkpoint_format");
  let root;
  try {
    root = b64decode(rootText);
  } catch {
    fail("checkpoint_format");
  }
  if (root.length !== 32 || ext.some((e) => !e)) fail("checkpoint_format");
  return { origin, size, root, text, otherSignatures: others };
}

// --- complaint references ---------------------------------------------------------------

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_ALPHABET = ALPHABET + "*~$=U";

function groupReference(symbols) {
  const groups = [];
  for (let i = 0; i < symbols.length; i += 5) groups.push(symbols.slice(i, i + 5));
  return ["CMP", ...groups].join("-");
}

/** The printed reference of a complaint whose received event has this leaf hash. */
export function formatReference(hash) {
  let value = 0n;
  for (const b of hash.slice(0, 15)) value = (value << 8n) | BigInt(b);
  let symbols = "";
  for (let i = 23; i >= 0; i--) symbols += ALPHABET[Number((value >> BigInt(5 * i)) & 31n)];
  return groupReference(symbols + CHECK_ALPHABET[Number(value % 37n)]);
}

/** Normalise what a person typed (case, spaces, hyphens, I/L->1, O->0); throws VerifyError. */
export function parseReference(text) {
  let s = String(text || "")
    .replace(/\s+/g, "")
    .toUpperCase()
    .replace(/-/g, "");
  if (!s) fail("ref_empty");
  if (s.length === 28 && s.startsWith("CMP")) s = s.slice(3);
  s = s.replace(/[IL]/g, "1").replace(/O/g, "0");
  if (s.length !== 25) fail("ref_length", { count: s.length });
  let value = 0n;
  for (const c of s.slice(0, -1)) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) fail("ref_character", { char: c });
    value = (value << 5n) | BigInt(v);
  }
  if (!CHECK_ALPHABET.includes(s[24])) fail("ref_character", { char: s[24] });
  if (CHECK_ALPHABET[Number(value % 37n)] !== s[24]) fail("ref_check");
  return groupReference(s);
}

// --- the domain's rules (rules.json, generated from ledger/complaints) ---------------------------

// rules.json is built by scripts/build_verify_rules.py from the Python domain (vocab.py,
// states.py, payloads.py, events.py): event types, statuses, roles, the transition table,
// payload specs, money units, which steps may be rated. This file keeps only the checks that
// are code; every table comes from there, so the browser and Python verifiers cannot drift.
// The rules are loaded once (loadRules) before any proof is checked; verifying a dropped
// bundle then needs no further request.

const RULES_FORMAT = 1;
let RULES = null;
export let STATUSES = [];
export let ROLES = [];
export let EVENT_TYPES = [];
export let SIGNED_EVENTS = [];
let PUBLIC_FIELDS = {};
let BODY_FIELDS = {};
let ACTOR_ID = null;
let HEX32 = null;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z$/;
const LOG_ORIGIN = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/**
 * Load the rulebook: by default rules.json beside this module (same origin), or a rules object
 * already at hand. Throws Error when it cannot be read or has another format.
 */
export async function loadRules(source = new URL("./rules.json", import.meta.url)) {
  let rules = source;
  if (typeof source === "string" || source instanceof URL) {
    const resp = await fetch(source, { credentials: "omit", cache: "no-cache" });
    if (!resp.ok) throw new Error(`rules.json: HTTP ${resp.status}`);
    rules = await resp.json();
  }
  if (!isObject(rules) || rules.format !== RULES_FORMAT)
    throw new Error(`rules.json: expected format ${RULES_FORMAT}`);
  const fields = (specs) =>
    Object.fromEntries(
      Object.entries(specs).map(([type, spec]) => [type, compileFields(rules, spec)]),
    );
  PUBLIC_FIELDS = fields(rules.public_fields);
  BODY_FIELDS = fields(rules.body_fields);
  ACTOR_ID = new RegExp(rules.envelope.actor_id);
  HEX32 = new RegExp(rules.envelope.hash);
  STATUSES = rules.statuses;
  ROLES = rules.roles;
  EVENT_TYPES = rules.event_types;
  SIGNED_EVENTS = rules.signed_events;
  RULES = rules;
  return rules;
}

function rulebook() {
  if (!RULES) throw new Error("the verification rules are not loaded (call loadRules first)");
  return RULES;
}

export function parseTimestamp(text) {
  const m = typeof text === "string" ? TIMESTAMP.exec(text) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, Number(m[7] || 0));
  const dt = new Date(ms);
  if (dt.getUTCDate() !== d || dt.getUTCMonth() !== mo - 1 || h > 23 || mi > 59 || s > 59) {
    return null;
  }
  return ms;
}

// --- payloads (ledger/complaints/payloads.py): public fields closed, bodies open ---------------

/** A validator from its description in rules.json (payloads.describe on the Python side). */
function compileCheck(rules, d) {
  switch (d.kind) {
    case "enum": {
      const values = rules.enums[d.enum];
      if (!Array.isArray(values)) throw new Error(`rules.json: no enum ${d.enum}`);
      return (v) => typeof v === "string" && values.includes(v);
    }
    case "pattern": {
      const re = new RegExp(d.pattern);
      return (v) => typeof v === "string" && re.test(v);
    }
    case "text":
      // Lengths in code points, as Python's len().
      return (v) => typeof v === "string" && v.trim().length > 0 && [...v].length <= d.max_length;
    case "timestamp":
      return (v) => parseTimestamp(v) !== null;
    case "amount": {
      const re = new RegExp(d.pattern);
      return (v) => typeof v === "string" && re.test(v) && !/^0(\.0+)?$/.test(v);
    }
    case "int":
      return (v) => Number.isSafeInteger(v) && v >= d.min && v <= d.max;
    case "list": {
      const item = compileCheck(rules, d.items);
      return (v) =>
        Array.isArray(v) &&
        v.length >= d.min_length &&
        v.length <= d.max_length &&
        v.every(item) &&
        (!d.unique || new Set(v.map((x) => canonicalJson(x))).size === v.length) &&
        (!d.sorted || v.join("\n") === [...v].sort().join("\n"));
    }
    case "nullable": {
      const inner = compileCheck(rules, d.inner);
      return (v) => v === null || inner(v);
    }
    case "object": {
      const spec = compileFields(rules, d.fields);
      return (v) => fieldsValid(v, spec, d.closed);
    }
    default:
      throw new Error(`rules.json: unknown check ${String(d.kind)}`);
  }
}

// name -> [required, validator]
function compileFields(rules, fields) {
  return Object.fromEntries(
    Object.entries(fields).map(([name, f]) => [name, [f.required, compileCheck(rules, f.check)]]),
  );
}

function fieldsValid(obj, spec, closed) {
  if (!isObject(obj)) return false;
  for (const [name, [required, valid]] of Object.entries(spec)) {
    if (name in obj ? !valid(obj[name]) : required) return false;
  }
  return !closed || Object.keys(obj).every((name) => Object.hasOwn(spec, name));
}

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
  const { minor_units: minorUnits, default_minor_units: defaultMinorUnits } = rulebook().money;
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

/** payloads.validate_public: only the listed, non-personal fields, each valid. */
function checkPublic(type, pub) {
  checkFields(pub, PUBLIC_FIELDS[type], true, "public");
  if (type === "escalated") {
    if ((pub.level === "specialist") !== "specialism" in pub)
      fail("public_value", { field: "specialism" });
    if (pub.level === "bot") fail("public_value", { field: "level" });
  }
  if (rulebook().money.events.includes(type)) checkMoney(pub, false);
}

/** payloads.validate_body: the fields a disclosed body of this type needs. */
export function checkBody(type, body) {
  checkFields(body, BODY_FIELDS[type] || {}, false, "body");
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
}

/** Parse and validate one event leaf (RFC 8785 text of the envelope). Throws VerifyError. */
export function parseEnvelope(leafText) {
  const data = parseCanonical(leafText);
  const E = rulebook().envelope;
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
  if (
    SIGNED_EVENTS.includes(data.type) &&
    (actor.role !== "officer" || actor.id !== data.public.signature.key_id)
  )
    fail("signer_mismatch");
  if (rulebook().officer_key_events.includes(data.type) && actor.role !== "admin")
    fail("envelope_field", { field: "actor.role" });
  return { ...data, atMs };
}

// --- money ---------------------------------------------------------------------------------

function money(fields) {
  if (!isObject(fields) || !("amount" in fields)) return null;
  const [whole, frac = ""] = String(fields.amount).split(".");
  const f = frac.replace(/0+$/, "");
  const unit = "asset" in fields ? fields.asset : fields.currency;
  return { value: f ? `${whole}.${f}` : whole, unit, asset: "asset" in fields };
}
const sameMoney = (a, b) => a.value === b.value && a.unit === b.unit && a.asset === b.asset;

// --- the complaint state machine (ledger/complaints/states.py) -------------------------------

// The table (who may record what, from which status to which) is rules.transitions; the
// guards below are the rules the table cannot express (states.GUARDS), driven by its data.

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

// --- officer keys (ledger/complaints/officers.py) -------------------------------------------

async function registerKey(registry, env, leafHashHex) {
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

function revokeKey(registry, env) {
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

/** payloads.check_consistency: public fields that repeat signed body fields (rules.mirrored). */
function checkConsistency(env, body) {
  for (const name of rulebook().mirrored[env.type] || []) {
    if (name in env.public && canonicalJson(env.public[name]) !== canonicalJson(body[name] ?? null))
      fail("public_body_mismatch", { field: name });
  }
  if (rulebook().money.events.includes(env.type)) {
    const units = (o) => ["currency", "asset"].filter((k) => k in o).join();
    const pu = units(env.public);
    if (pu && "amount" in env.public && pu !== units(body))
      fail("public_body_mismatch", { field: "currency/asset" });
  }
}

function checkContext(env, body) {
  const ctx = body.context;
  if (!isObject(ctx)) fail("context_missing");
  const expected = { log: env.log, complaint: env.complaint, prev: env.prev, type: env.type };
  for (const [name, value] of Object.entries(expected)) {
    if (ctx[name] !== value) fail("context_mismatch", { field: name });
  }
}

// --- the whole proof -------------------------------------------------------------------------

const CATEGORIES = [
  "key",
  "checkpoint",
  "inclusion",
  "reference",
  "chain",
  "rules",
  "commitments",
  "officer_keys",
  "authority",
  "signatures",
  "anchor",
  "server_status",
];

class Report {
  constructor() {
    this.cats = Object.fromEntries(CATEGORIES.map((c) => [c, []]));
  }
  add(cat, status, label, detail = null, extra = {}) {
    this.cats[cat].push({ status, label, detail, ...extra });
    return status === "ok";
  }
  ok(cat, label, detail, extra) {
    return this.add(cat, "ok", label, detail, extra);
  }
  fail(cat, label, detail, extra) {
    return this.add(cat, "fail", label, detail, extra);
  }
  skip(cat, label, detail, extra) {
    return this.add(cat, "skip", label, detail, extra);
  }
}

const msg = (key, params = {}) => ({ key, params });
const errMsg = (exc) =>
  exc instanceof VerifyError
    ? msg(`err.${exc.code}`, exc.params)
    : msg("err.unexpected", { text: String(exc) });

function asProofList(value) {
  if (!Array.isArray(value)) fail("proof_not_list");
  return value.map((p) => hashdecode(p));
}

/** Check one log entry's inclusion; returns the leaf hash (or null when it does not hold). */
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

async function verifyAnchor(report, anchor, cp, verifier) {
  const label = msg("item.anchor");
  if (anchor === null || anchor === undefined) {
    report.skip("anchor", label, msg("detail.anchor_none"));
    return null;
  }
  const info = { ...anchor, consistency: "skip" };
  if (!isObject(anchor)) {
    report.fail("anchor", label, msg("err.anchor_format"));
    return info;
  }
  if (!cp) {
    // An anchor says something only about a checkpoint that is itself verified.
    report.skip("anchor", label, msg("detail.no_checkpoint"));
    return info;
  }
  // The record's own fields.
  const txOk = typeof anchor.tx_hash === "string" && /^0x[0-9a-fA-F]{64}$/.test(anchor.tx_hash);
  const chainOk = Number.isSafeInteger(anchor.chain_id) && anchor.chain_id > 0;
  const contractOk =
    typeof anchor.contract === "string" && /^0x[0-9a-fA-F]{40}$/.test(anchor.contract);
  if (!txOk || !chainOk || !contractOk) {
    report.fail("anchor", msg("item.anchor_record"), msg("err.anchor_format"));
  } else {
    report.ok(
      "anchor",
      msg("item.anchor_record"),
      msg("detail.anchor_record", {
        chain: anchor.chain_id,
        tx: anchor.tx_hash,
        block: anchor.block_number ?? "—",
      }),
    );
  }
  const confirmations = Number.isSafeInteger(anchor.confirmations) ? anchor.confirmations : 0;
  if (anchor.state === "confirmed") {
    report.ok(
      "anchor",
      msg("item.anchor_state"),
      msg("detail.anchor_confirmed", { n: confirmations }),
    );
  } else if (anchor.state === "pending") {
    report.skip(
      "anchor",
      msg("item.anchor_state"),
      msg("detail.anchor_pending", { n: confirmations }),
    );
  } else {
    report.fail(
      "anchor",
      msg("item.anchor_state"),
      msg("detail.anchor_bad_state", { state: String(anchor.state) }),
    );
  }
  // Consistency: the checkpoint the events are proven against is a prefix of the anchored tree.
  try {
    if (anchor.checkpoint_size !== undefined && anchor.checkpoint_size !== cp.size)
      fail("anchor_other_checkpoint", { size: anchor.checkpoint_size });
    const root2 = hashdecode(anchor.anchored_root);
    await verifyConsistency(
      cp.size,
      anchor.anchored_size,
      cp.root,
      root2,
      asProofList(anchor.consistency_proof || []),
    );
    info.consistency = "ok";
    report.ok(
      "anchor",
      msg("item.anchor_consistency"),
      msg("detail.anchor_consistency", {
        size1: cp.size,
        size2: anchor.anchored_size,
      }),
    );
  } catch (exc) {
    info.consistency = "fail";
    report.fail("anchor", msg("item.anchor_consistency"), errMsg(exc));
  }
  // The anchored checkpoint itself, when given: signed by the log, same size and root.
  if (typeof anchor.anchored_checkpoint === "string" && verifier) {
    try {
      const acp = await openCheckpoint(anchor.anchored_checkpoint, verifier);
      if (acp.size !== anchor.anchored_size || hexencode(acp.root) !== anchor.anchored_root)
        fail("anchor_checkpoint_differs");
      if (typeof anchor.note_hash === "string") {
        const h = "0x" + hexencode(await sha256(utf8(anchor.anchored_checkpoint)));
        if (h !== anchor.note_hash.toLowerCase()) fail("anchor_note_hash");
      }
      report.ok(
        "anchor",
        msg("item.anchor_checkpoint"),
        msg("detail.tree_size", { size: acp.size }),
      );
    } catch (exc) {
      report.fail("anchor", msg("item.anchor_checkpoint"), errMsg(exc));
    }
  }
  return info;
}

/**
 * Verify a complaint proof. ``vkeyText`` is the log's verifier key; ``expectedReference`` is
 * what the customer typed (optional). Never throws for bad input: failures go in the report.
 */
export async function verifyProof(
  proof,
  vkeyText,
  { expectedReference = null, serverStatus = null } = {},
) {
  if (!RULES) await loadRules();
  const report = new Report();
  const result = {
    report,
    events: [],
    officerKeys: [],
    state: null,
    checkpoint: null,
    anchor: null,
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
          const key = checkAuthority(registry, sig.key_id, env.actor.role, env.atMs);
          ev.signer = key;
          report.ok(
            "authority",
            alabel,
            msg("detail.authority", { role: env.actor.role, at: env.at }),
            extra,
          );
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
        checkBody(ev.env.type, body);
        checkConsistency(ev.env, body);
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
      checkContext(ev.env, ev.body);
      const key = registry.get(ev.env.public.signature.key_id);
      if (!key) fail("auth_unknown_key", { key: ev.env.public.signature.key_id });
      const ok = await ed25519Verify(
        key.cryptoKey,
        hexdecode(ev.env.public.signature.sig),
        utf8(item.body),
      );
      if (!ok) fail("signature_invalid");
      report.ok("signatures", slabel, msg("detail.signature", { key: key.keyId }), extra);
      ev.marks.signature = "ok";
    } catch (exc) {
      report.fail("signatures", slabel, errMsg(exc), extra);
      ev.marks.signature = "fail";
    }
  }

  // 7. The blockchain anchor.
  result.anchor = await verifyAnchor(report, proof.anchor, cp, verifier);

  // 8. What the service says the status is, against the status recomputed from the log.
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

function finish(result) {
  const categories = CATEGORIES.map((id) => {
    const items = result.report.cats[id];
    let status = "skip";
    if (items.some((i) => i.status === "fail")) status = "fail";
    else if (items.some((i) => i.status === "ok")) status = "ok";
    return { id, status, items };
  }).filter((c) => c.items.length);
  result.categories = categories;
  result.ok =
    categories.every((c) => c.status !== "fail") &&
    categories.some((c) => c.id === "checkpoint" && c.status === "ok");
  result.caveats = categories
    .filter((c) => c.items.some((i) => i.status === "skip"))
    .map((c) => c.id);
  delete result.report;
  return result;
}

// --- evidence bundle ZIP ---------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function inflateRaw(data) {
  if (typeof DecompressionStream === "undefined") fail("zip_no_deflate");
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Read one file (default ``proof.json``, at the top level or in one folder) out of a ZIP. */
export async function readZipEntry(buffer, wanted = "proof.json") {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("zip_format");
  const count = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) fail("zip_zip64");
  let pos = cdOffset;
  const found = [];
  for (let n = 0; n < count; n++) {
    if (pos + 46 > bytes.length || view.getUint32(pos, true) !== 0x02014b50) fail("zip_format");
    const flags = view.getUint16(pos + 8, true);
    const method = view.getUint16(pos + 10, true);
    const crc = view.getUint32(pos + 16, true);
    const csize = view.getUint32(pos + 20, true);
    const usize = view.getUint32(pos + 24, true);
    const nameLen = view.getUint16(pos + 28, true);
    const extraLen = view.getUint16(pos + 30, true);
    const commentLen = view.getUint16(pos + 32, true);
    const local = view.getUint32(pos + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(pos + 46, pos + 46 + nameLen));
    found.push({ name, flags, method, crc, csize, usize, local });
    pos += 46 + nameLen + extraLen + commentLen;
  }
  const depth = (e) => e.name.split("/").length;
  const entry = found
    .filter((e) => e.name === wanted || (e.name.endsWith("/" + wanted) && depth(e) === 2))
    .sort((a, b) => depth(a) - depth(b))[0];
  if (!entry) fail("zip_no_proof", { name: wanted });
  if (entry.flags & 1) fail("zip_encrypted");
  if (entry.csize === 0xffffffff || entry.local === 0xffffffff) fail("zip_zip64");
  if (view.getUint32(entry.local, true) !== 0x04034b50) fail("zip_format");
  const start =
    entry.local +
    30 +
    view.getUint16(entry.local + 26, true) +
    view.getUint16(entry.local + 28, true);
  const data = bytes.subarray(start, start + entry.csize);
  if (data.length !== entry.csize) fail("zip_format");
  let out;
  if (entry.method === 0) out = data;
  else if (entry.method === 8) out = await inflateRaw(data);
  else fail("zip_method", { method: entry.method });
  if (out.length !== entry.usize || crc32(out) !== entry.crc) fail("zip_crc");
  try {
    return td.decode(out);
  } catch {
    fail("zip_format");
  }
}

// --- evidence bundle formats (ledger/evidence/layout.py) --------------------------------------

const BUNDLE_FORMAT = "complaint-ledger/evidence-bundle";
const BUNDLE_VERSION = 2;

/**
 * A format-1 bundle's proof as format 2 has it: format 1 carries the checkpoint root, every
 * inclusion proof (events and officer key entries), the anchored root and the anchor's
 * consistency proof in base64 instead of hex; nothing else differs. Pure, like
 * ``layout.proof_v1_to_v2``. A value that is not the base64 of a 32-byte hash is left as it
 * is, so the check that reads it fails at that very step.
 */
export function proofV1ToV2(proof) {
  const hash = (value) => {
    try {
      const raw = b64decode(value);
      return raw.length === 32 && b64encode(raw) === value ? hexencode(raw) : value;
    } catch {
      return value;
    }
  };
  const hashes = (value) => (Array.isArray(value) ? value.map(hash) : value);
  const converted = (record, fields) => {
    if (!isObject(record)) return record;
    const out = { ...record };
    for (const [name, convert] of Object.entries(fields))
      if (name in record) out[name] = convert(record[name]);
    return out;
  };
  if (!isObject(proof)) return proof;
  const inclusion = { inclusion_proof: hashes };
  const out = { ...proof };
  if ("checkpoint" in proof) out.checkpoint = converted(proof.checkpoint, { root: hash });
  if (Array.isArray(proof.events)) out.events = proof.events.map((e) => converted(e, inclusion));
  if (Array.isArray(proof.officer_keys))
    out.officer_keys = proof.officer_keys.map((key) =>
      isObject(key) && Array.isArray(key.entries)
        ? { ...key, entries: key.entries.map((e) => converted(e, inclusion)) }
        : key,
    );
  if (proof.anchor !== null && proof.anchor !== undefined)
    out.anchor = converted(proof.anchor, { anchored_root: hash, consistency_proof: hashes });
  return out;
}

/**
 * The complaint proof of an evidence bundle ZIP, as ``verifyProof`` reads it, and the bundle's
 * format version: a format-1 proof is read through ``proofV1ToV2``. A ZIP without a
 * manifest.json (a proof.json zipped by hand) is read as the current format; a manifest of
 * another format or version is refused. Throws VerifyError.
 */
export async function readBundleProof(buffer) {
  const json = async (name, code, params = {}) => {
    try {
      return JSON.parse(await readZipEntry(buffer, name));
    } catch (exc) {
      if (exc instanceof VerifyError) throw exc;
      return fail(code, params);
    }
  };
  const proof = await json("proof.json", "bundle_not_json");
  let version = BUNDLE_VERSION;
  try {
    const manifest = await json("manifest.json", "bundle_format", { version: "?" });
    const known = isObject(manifest) && manifest.format === BUNDLE_FORMAT;
    version = known ? manifest.format_version : null;
  } catch (exc) {
    if (!(exc instanceof VerifyError && exc.code === "zip_no_proof")) throw exc;
  }
  if (version === 1) return { proof: proofV1ToV2(proof), formatVersion: 1 };
  if (version !== BUNDLE_VERSION) fail("bundle_format", { version: String(version) });
  return { proof, formatVersion: version };
}
