"""The log itself, pure: RFC 6962 Merkle trees and proofs, C2SP signed notes and checkpoints,
tiles, canonical JSON and hex encodings, log keys and a tile client. No database: the
stored log is ``ledger.logstore``."""
