"""Optimizers and their wrappers/hooks."""
