"""The log on a database: entries, checkpoints and tiles stored with SQLAlchemy, the group
commit that sequences appends, and the integrity check. The formats and proofs themselves are
the pure ``ledger.log``."""
