// Complaint references: CMP- then 24 Crockford base32 symbols and a mod-37 check symbol.
//
// A reference is derived from the leaf hash of the complaint's first (received) event, its
// first 15 bytes (ledger/complaints/reference.py).

import { fail } from "./errors.js";

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
