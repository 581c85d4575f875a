"""`python -m pipeline_tools` is `python -m pipeline_tools.promote`."""

from pipeline_tools.promote import main

raise SystemExit(main())
