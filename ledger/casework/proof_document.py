"""The complaint proof document (the ``GET /v1/complaints/<ref>/proof`` format) at one
checkpoint: every event's leaf and inclusion proof, optionally bodies and salts, the
signing officers' key entries, and the anchor covering the checkpoint.

The database edge of the pure verifiers (``ledger.verify``) and the bundle builder
(``ledger.evidence``). Collaborators are passed in: the log store, the complaint reads, the
officer keys and ``anchor_for`` (the anchor covering a tree size, from ``ledger.anchoring`` or
the API).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from ledger.casework.officer_keys import OfficerKeys
from ledger.casework.reads import ComplaintReads, StoredEvent
from ledger.complaints.vocab import EventType
from ledger.errors import LedgerError
from ledger.log.encoding import hashes_hex
from ledger.logstore.store import LogStore

AnchorFor = Callable[[int], dict[str, Any] | None]


class ProofUnavailable(LedgerError, ValueError):
    """No proof can be given at the requested checkpoint."""


def bundle_checkpoint(store: LogStore, events: Sequence[StoredEvent]) -> int:
    """The default checkpoint of a bundle: the first one holding the complaint's last step,
    trailing exports aside. A re-export with nothing new therefore has the same checkpoint,
    the same content and the same bytes (once the anchor, if any, is final)."""
    substantive = list(events)
    while len(substantive) > 1 and substantive[-1].envelope.type == EventType.BUNDLE_EXPORTED:
        substantive.pop()
    return store.checkpoint_covering(substantive[-1].log_index).size


def collect_proof(
    store: LogStore,
    complaints: ComplaintReads,
    officer_keys: OfficerKeys,
    reference: str,
    *,
    anchor_for: AnchorFor,
    tree_size: int | None = None,
    disclose: bool = True,
    withhold: Collection[str] = (),
    withhold_seqs: Collection[int] = (),
) -> dict[str, Any]:
    """The complaint proof (the ``GET .../proof`` format) at the checkpoint of ``tree_size``
    (default: ``bundle_checkpoint``), holding the complaint's events in that tree.

    Bodies and salts are included when ``disclose``, except for event types in ``withhold``
    and the steps in ``withhold_seqs`` (bodies the caller may not read yet). An event counts
    as erased only if its erasure is itself in the tree.
    """
    events = complaints.events(reference)
    size = bundle_checkpoint(store, events) if tree_size is None else tree_size
    cp = store.checkpoint(size)
    included = [e for e in events if e.log_index < cp.size]
    if not included:
        raise ProofUnavailable(f"the checkpoint of size {size} predates this complaint")
    in_tree = {e.envelope.leaf_hash_hex for e in included}
    items = []
    signers: set[str] = set()
    for e in included:
        erased = e.erased_by is not None and e.erased_by in in_tree
        item: dict[str, Any] = {
            "seq": e.seq,
            "type": str(e.envelope.type),
            "index": e.log_index,
            "leaf": e.envelope.leaf.decode("utf-8"),
            "inclusion_proof": hashes_hex(store.inclusion_proof(e.log_index, cp.size)),
            "erased": erased,
        }
        shown = (
            disclose
            and str(e.envelope.type) not in withhold
            and e.seq not in withhold_seqs
            and not erased
        )
        if shown and e.salt is not None and e.body_jcs is not None:
            item["salt"] = e.salt.hex()
            item["body"] = e.body_jcs.decode("utf-8")
        # The keys of every signature and co-signature: the verifier checks each one's
        # authority and limits from its registration.
        for name in ("signature", "cosignature"):
            sig = e.envelope.public.get(name)
            if sig:
                signers.add(sig["key_id"])
        items.append(item)
    keys = []
    for key_id in sorted(signers):
        entries = officer_keys.entries(key_id)
        keys.append(
            {
                "key_id": key_id,
                "entries": [
                    {
                        "index": index,
                        "leaf": env.leaf.decode("utf-8"),
                        "inclusion_proof": hashes_hex(store.inclusion_proof(index, cp.size)),
                    }
                    for index, env in entries
                    if index < cp.size
                ],
            }
        )
    return {
        "reference": reference,
        "log": store.origin,
        "verifier_key": str(store.verifier),
        "checkpoint": {"size": cp.size, "root": cp.root.hex(), "note": cp.note},
        "events": items,
        "officer_keys": keys,
        "anchor": anchor_for(cp.size),
    }
