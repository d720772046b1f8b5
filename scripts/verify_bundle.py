from ledger.verify.cli import bundle_main

raise SystemExit(bundle_main())
