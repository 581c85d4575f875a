"""`python -m sagemaker_ops <subcommand> --env <env> ...`."""

from sagemaker_ops.cli import main

raise SystemExit(main())
