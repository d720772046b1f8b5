complaint-ledger evidence bundle v1
log spec.ledger.example/log
complaint CMP-99JP2-P2C4N-ZZZR7-MCF5R-ZXDCA
tree-size 5
manifest-sha256 dc95bbe1be5e5a0888e63e93deed78525bd37f6831e7a365bd533206b0a58db2

— spec.ledger.example/log B5RFI92QOqpqm2uI+YIspt/4WIgJT15sAXRzCFUjcHLq85unZe2oqjVAhyKdwc0lqH82A+LVDM/7TrMmUwXgaYAtvgg=
