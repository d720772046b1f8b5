// Ed25519 (WebCrypto) and C2SP signed notes: verifier keys, note signatures, checkpoints.
//
// A note must carry a valid signature by the verifier key given; lines by other keys
// (witnesses) are counted, not checked. A checkpoint is a note of origin, size, base64 root.

import { b64decode, concat, hexencode, sha256, utf8 } from "./bytes.js";
import { fail } from "./errors.js";

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
