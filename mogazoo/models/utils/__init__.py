from .layers import ElementScale
from .pretrained import CheckedPretrainedInit, checked_pretrained

__all__ = ['CheckedPretrainedInit', 'ElementScale', 'checked_pretrained']
