"""Tools around the training pipeline's executions (Training stack), usable from scripts and the ops CLI."""
