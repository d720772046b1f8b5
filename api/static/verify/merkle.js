// RFC 6962 / RFC 9162 Merkle trees: leaf and node hashes, inclusion and consistency proofs.
//
// Proof failures throw a VerifyError naming what is wrong (err.<code> in i18n/*.json).

import { concat, equalBytes, hashdecode, sha256 } from "./bytes.js";
import { fail } from "./errors.js";

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

/** A proof as our JSON carries it (a list of hex hashes), as bytes. Throws VerifyError. */
export function asProofList(value) {
  if (!Array.isArray(value)) fail("proof_not_list");
  return value.map((p) => hashdecode(p));
}
