// Evidence bundles (ledger/verify/layout.py): the complaint proof inside a bundle ZIP, read
// in the current format (a format-1 proof is converted; other formats are refused).

import { b64decode, b64encode, hexencode } from "./bytes.js";
import { fail, VerifyError } from "./errors.js";
import { isObject } from "./json.js";
import { readZipEntry } from "./zip.js";

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
