// The blockchain anchor of a proof: the anchor record's fields and state, the RFC 9162
// consistency of the proof's checkpoint with the anchored tree, and the anchored checkpoint.
//
// The chain itself is not queried here: the record says what was anchored, and these checks
// say whether that anchored tree contains the verified checkpoint.

import { hashdecode, hexencode, sha256, utf8 } from "./bytes.js";
import { fail } from "./errors.js";
import { isObject } from "./json.js";
import { asProofList, verifyConsistency } from "./merkle.js";
import { openCheckpoint } from "./note.js";
import { errMsg, msg } from "./report.js";

/** Check the anchor record against the verified checkpoint ``cp``; returns what the page
 * shows of it (null when there is none). */
export async function verifyAnchor(report, anchor, cp, verifier) {
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
