"""LightGBM's gradient-boosted trees (algorithm.py); the image runs `lightgbm_gbdt:ALGORITHM`."""

from lightgbm_gbdt.algorithm import ALGORITHM

__all__ = ["ALGORITHM"]
