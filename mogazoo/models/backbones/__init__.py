from .dgmn2 import DGMN2
from .moganet import MogaNet

__all__ = ['DGMN2', 'MogaNet']
