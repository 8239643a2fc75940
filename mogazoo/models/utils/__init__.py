from .freeze import FreezeStagesMixin
from .layers import ElementScale
from .misc import parse_out_indices
from .pretrained import CheckedPretrainedInit, checked_pretrained

__all__ = [
    'CheckedPretrainedInit', 'ElementScale', 'FreezeStagesMixin',
    'checked_pretrained', 'parse_out_indices'
]
