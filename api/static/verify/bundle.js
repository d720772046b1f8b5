// Evidence bundles (ledger/verify/layout.py): the complaint proof inside a bundle ZIP, read
// in the current format (a format-1 proof is converted; other formats are refused), and the
// attached files (attachments/<sha256>) checked against the bodies that list them.

import { b64decode, b64encode, hexencode, sha256 } from "./bytes.js";
import { fail, VerifyError } from "./errors.js";
import { isObject } from "./json.js";
import { msg } from "./report.js";
import { readZipBytes, readZipEntry, zipNames } from "./zip.js";

const BUNDLE_FORMAT = "complaint-ledger/evidence-bundle";
const BUNDLE_VERSION = 2;
const ATTACHMENTS = "attachments/";
const SHA256_HEX = /^[0-9a-f]{64}$/;

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
 * The complaint proof of an evidence bundle ZIP, as ``verifyProof`` reads it, the bundle's
 * format version, and its attached files checked (``checkAttachments``; add them to the
 * verification with ``addAttachmentChecks``). A format-1 proof is read through
 * ``proofV1ToV2``. A ZIP without a manifest.json (a proof.json zipped by hand) is read as the
 * current format; a manifest of another format or version is refused. Throws VerifyError.
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
  if (version === 1) return { proof: proofV1ToV2(proof), formatVersion: 1, attachments: [] };
  if (version !== BUNDLE_VERSION) fail("bundle_format", { version: String(version) });
  return { proof, formatVersion: version, attachments: await checkAttachments(buffer, proof) };
}

/**
 * The files the disclosed bodies of ``proof`` list, as ``layout.attachment_listings``: for
 * each, {seq, position, sha256, size (null when the body gives none), name}. Erased and
 * withheld bodies list none; an entry without a SHA-256 is no file reference.
 */
export function attachmentListings(proof) {
  const out = [];
  const events = isObject(proof) && Array.isArray(proof.events) ? proof.events : [];
  for (const item of events) {
    if (!isObject(item) || item.erased || typeof item.body !== "string") continue;
    let body;
    try {
      body = JSON.parse(item.body);
    } catch {
      continue; // the commitment check names a body that is not JSON
    }
    const files = isObject(body) && Array.isArray(body.attachments) ? body.attachments : [];
    files.forEach((entry, position) => {
      if (!isObject(entry) || typeof entry.sha256 !== "string") return;
      if (!SHA256_HEX.test(entry.sha256)) return;
      const size = Number.isInteger(entry.size) ? entry.size : null;
      const name = typeof entry.name === "string" ? entry.name : "";
      out.push({ seq: item.seq, position, sha256: entry.sha256, size, name });
    });
  }
  return out;
}

/**
 * Each attached file of a bundle against the body listing it, as the Python verifier checks
 * it (``_check_attachments``): one result per listing, ``status`` "ok" (its SHA-256 and size
 * are what the body commits to), "fail" (``actual`` says what the file is, or ``error`` why
 * it cannot be read) or "missing" (not exported; the body still verifies); and one
 * {kind: "unlisted", path} per file under attachments/ that no disclosed body lists.
 */
export async function checkAttachments(buffer, proof) {
  const names = zipNames(buffer);
  const proofName = names.find((n) => n === "proof.json" || /^[^/]+\/proof\.json$/.test(n));
  const root = proofName ? proofName.slice(0, -"proof.json".length) : "";
  const present = new Set(
    names
      .filter((n) => n.startsWith(root + ATTACHMENTS) && !n.endsWith("/"))
      .map((n) => n.slice(root.length)),
  );
  const listings = attachmentListings(proof);
  const listed = new Set(listings.map((l) => ATTACHMENTS + l.sha256));
  const out = [...present]
    .filter((path) => !listed.has(path))
    .sort()
    .map((path) => ({ kind: "unlisted", path }));
  const read = new Map(); // path -> {sha256, size} or {error}
  for (const listing of listings) {
    const path = ATTACHMENTS + listing.sha256;
    if (!present.has(path)) {
      out.push({ kind: "file", ...listing, status: "missing" });
      continue;
    }
    if (!read.has(path)) {
      try {
        const data = await readZipBytes(buffer, path);
        read.set(path, { sha256: hexencode(await sha256(data)), size: data.length });
      } catch (exc) {
        if (!(exc instanceof VerifyError)) throw exc;
        read.set(path, { error: { code: exc.code, params: exc.params } });
      }
    }
    const actual = read.get(path);
    const ok =
      !actual.error &&
      actual.sha256 === listing.sha256 &&
      (listing.size === null || listing.size === actual.size);
    out.push({ kind: "file", ...listing, status: ok ? "ok" : "fail", actual });
  }
  return out;
}

/**
 * Add ``checkAttachments``' results to a ``verifyProof`` result (category "commitments": a
 * file against the body that commits to it), and give its verdict again as verifyProof does.
 */
export function addAttachmentChecks(result, attachments) {
  const { report } = result;
  for (const a of attachments || []) {
    if (a.kind === "unlisted") {
      report.fail(
        "commitments",
        msg("item.attachment_unlisted"),
        msg("err.attachment_unlisted", { path: a.path }),
      );
      continue;
    }
    const label = msg("item.attachment", { name: a.name, seq: a.seq });
    if (a.status === "ok") {
      const detail = { size: a.actual.size, sha256: a.sha256 };
      report.ok("commitments", label, msg("detail.attachment_ok", detail));
    } else if (a.status === "missing") {
      report.skip("commitments", label, msg("detail.attachment_missing"));
    } else if (a.actual.error) {
      report.fail("commitments", label, msg(`err.${a.actual.error.code}`, a.actual.error.params));
    } else {
      const found = { sha256: a.actual.sha256, size: a.actual.size };
      report.fail("commitments", label, msg("err.attachment_mismatch", found));
    }
  }
  result.categories = report.categories();
  result.ok = report.passed;
  result.caveats = result.categories
    .filter((c) => c.items.some((i) => i.status === "skip"))
    .map((c) => c.id);
  return result;
}
