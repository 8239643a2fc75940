from .base import MogazooBackbone
from .dgmn2 import DGMN2
from .fastervit import FasterViT
from .moganet import MogaNet

__all__ = ['DGMN2', 'FasterViT', 'MogaNet', 'MogazooBackbone']
