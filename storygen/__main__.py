from storygen.cli import main

raise SystemExit(main())
