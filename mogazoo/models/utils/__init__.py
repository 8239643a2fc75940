from .layers import ElementScale
from .misc import parse_out_indices

__all__ = ['ElementScale', 'parse_out_indices']
