// Complaint proof verification in the browser: no DOM, no server trust, WebCrypto only.
//
// The public API of the verifier modules beside this file, for the page (verify-ui.js), the
// browser tests and anyone who wants to script it (window.VerifyCore on the page):
//   errors.js      VerifyError, the one error every check throws
//   bytes.js       UTF-8, hex, base64, SHA-256
//   json.js        RFC 8785 canonical JSON
//   merkle.js      RFC 6962 / RFC 9162 inclusion and consistency proofs
//   note.js        Ed25519, C2SP signed notes and checkpoints
//   reference.js   complaint references (Crockford base32 with a check symbol)
//   timestamps.js  event timestamps
//   rules.js       the rulebook (rules.json) and its compiled payload checks
//   payloads.js, events.js, states.js, officers.js   the domain's checks, driven by the rules
//   report.js      the report: categories of checks, and its shared JSON shape
//   messages.js    message texts (i18n/<lang>.json)
//   anchor.js      the blockchain anchor record
//   payout.js      a vault payout against the offer, acceptance and payment it carries out
//   proof.js       verifyProof, the entry point
//   zip.js, bundle.js   the proof inside an evidence bundle ZIP, and its attached files
//
// verifyProof() returns a report: categories of checks, each item "ok", "fail" or "skip"
// (not checked, with the reason), with message keys and parameters for translation;
// result.report.toJSON() is the same report in the shape the Python verifiers print.

export { VerifyError } from "./errors.js";
export {
  b64decode,
  b64encode,
  concat,
  equalBytes,
  hashdecode,
  hexdecode,
  hexencode,
  sha256,
  utf8,
} from "./bytes.js";
export { canonicalJson, parseCanonical } from "./json.js";
export {
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export {
  ed25519Verify,
  importEd25519,
  openCheckpoint,
  openNote,
  parseVerifierKey,
  splitNote,
} from "./note.js";
export { formatReference, parseReference } from "./reference.js";
export { parseTimestamp } from "./timestamps.js";
export { EVENT_TYPES, loadRules, ROLES, SIGNED_EVENTS, STATUSES } from "./rules.js";
export { checkBody } from "./payloads.js";
export { parseEnvelope } from "./events.js";
export { applyStep } from "./states.js";
export { checkAuthority } from "./officers.js";
export { checkPayouts } from "./payout.js";
export { verifyProof } from "./proof.js";
export { crc32, readZipBytes, readZipEntry, zipNames } from "./zip.js";
export {
  addAttachmentChecks,
  attachmentListings,
  checkAttachments,
  proofV1ToV2,
  readBundleProof,
} from "./bundle.js";
