from .freeze import FreezeStagesMixin
from .layers import ElementScale
from .misc import parse_out_indices

__all__ = ['ElementScale', 'FreezeStagesMixin', 'parse_out_indices']
