complaint-ledger evidence bundle v1
log spec.ledger.example/log
complaint CMP-5PPT2-FYFMQ-59MSQ-9KJ3E-9NQMG
tree-size 5
manifest-sha256 e59fa0cd7aa551756ecfbf52927cbc5600da9e93480517636c74ade1287bba96

— spec.ledger.example/log mu83vBAtuuzDALslourbHn4bGaMPh7muiWNVBwEQ7UbZn5UmmC2qzp9MqdAu+7GNh3nDTE63tbjIyKBIErTdcHww4QE=
