"""Optimizers and their wrappers/hooks."""
from .sophia import SophiaG

__all__ = ['SophiaG']
