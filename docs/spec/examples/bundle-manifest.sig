complaint-ledger evidence bundle v1
log spec.ledger.example/log
complaint CMP-A2MRV-QZ4T3-EN6J4-S1V2F-XBPQQ
tree-size 5
manifest-sha256 f1465919b443a6606f2d9e2ec86ea03eeeb472ac6126e0544d4c8a4ca1b7dd24

— spec.ledger.example/log i3+vtR2HZlseyRS1oFFq5fgkTQM5lEBEKuZKyvClTmsJ7nkW6VMvZDAgbYvzyj1Yc7laMvxu1KwrNSWwxOiAa+/+KgM=
