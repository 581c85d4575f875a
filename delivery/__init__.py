"""Delivery: what the GitHub workflows run that is not the app itself (docs/delivery.md)."""
