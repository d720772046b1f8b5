// Bytes and their encodings: UTF-8, hex, base64, and SHA-256 through WebCrypto.
//
// Decoders throw a VerifyError ("hex", "base64") on malformed input; hashes in our JSON are
// 64 lowercase hex digits (docs/spec/encoding.md).

import { fail } from "./errors.js";

const te = new TextEncoder();

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
