"""Day-2 operations of a deployed environment, one subcommand each: `python -m sagemaker_ops --help`.

Names come from the stacks' outputs (`<Stage>-Platform`, `<Stage>-Inference`, `<Stage>-Training`)
and the configuration (`config/environments.toml`), never from hand-typed resource names.
"""
