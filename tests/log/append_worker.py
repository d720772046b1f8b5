"""Child process for concurrency and crash tests: appends through a Sequencer from threads
and prints one line per receipt (``index leaf_hash_hex checkpoint_size``) once it is returned."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from ledger.db import make_engine
from ledger.log.keys import load_key_file
from ledger.logstore.sequencer import Sequencer
from ledger.logstore.store import LogStore


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--count", type=int, default=0, help="entries per thread; 0 = forever")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--prefix", default="p")
    args = p.parse_args()

    store = LogStore(make_engine(args.url), args.origin, load_key_file(args.key))
    sequencer = Sequencer(store)
    out_lock = threading.Lock()

    def work(t: int) -> None:
        i = 0
        while args.count == 0 or i < args.count:
            n = 1 + (i + t) % 3  # mix single and multi-entry appends
            if args.count:
                n = min(n, args.count - i)
            items = [f"{args.prefix}-{t}-{i + k}".encode() for k in range(n)]
            receipts = sequencer.append_many(items)
            lines = "".join(
                f"{r.index} {r.leaf_hash.hex()} {r.checkpoint.size}\n" for r in receipts
            )
            with out_lock:
                sys.stdout.write(lines)
                sys.stdout.flush()
            i += n

    threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    sequencer.close()


if __name__ == "__main__":
    main()
