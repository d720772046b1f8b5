complaint-ledger evidence bundle v1
log spec.ledger.example/log
complaint CMP-VTY65-4QT6P-N2W8R-G2C07-4546V
tree-size 5
manifest-sha256 969d0b4556d7658b5f36025ee5fa01dfb724c388361b502c087571d3a4967bb3

— spec.ledger.example/log S669F65Tl59vA9drSsQikQaFmAXAUgISIgQUvAkzgZ7XVfKl/e4ciDTgy+iyhlAQceeCiN22vmFypShjdA37xanoiww=
