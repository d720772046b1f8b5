from ledger.verify.cli import complaint_main

raise SystemExit(complaint_main())
