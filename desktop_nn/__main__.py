from desktop_nn.cli import main

raise SystemExit(main())
