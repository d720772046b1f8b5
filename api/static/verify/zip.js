// A minimal ZIP reader: its file names, and one named file out of an archive, stored or
// deflated (through the browser's DecompressionStream), its CRC-32 and sizes checked. No ZIP64,
// no encryption.

import { fail } from "./errors.js";

const td = new TextDecoder("utf-8", { fatal: true });

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

/** The central directory of a ZIP: its entries' names, flags, methods, CRCs, sizes, offsets. */
function zipEntries(bytes) {
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
  return found;
}

/** The names of every file in a ZIP. */
export function zipNames(buffer) {
  return zipEntries(new Uint8Array(buffer)).map((e) => e.name);
}

/**
 * The bytes of one file (default ``proof.json``) of a ZIP: at ``wanted``, or under one folder
 * holding the whole bundle (``<folder>/wanted``). CRC-32 and size checked.
 */
export async function readZipBytes(buffer, wanted = "proof.json") {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const depth = (name) => name.split("/").length;
  const inFolder = (name) => name.endsWith("/" + wanted) && depth(name) === depth(wanted) + 1;
  const entry = zipEntries(bytes)
    .filter((e) => e.name === wanted || inFolder(e.name))
    .sort((a, b) => depth(a.name) - depth(b.name))[0];
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
  return out;
}

/** Read one file (default ``proof.json``, at the top level or in one folder) out of a ZIP, as
 * UTF-8 text. */
export async function readZipEntry(buffer, wanted = "proof.json") {
  const out = await readZipBytes(buffer, wanted);
  try {
    return td.decode(out);
  } catch {
    fail("zip_format");
  }
}
