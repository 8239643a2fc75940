"""Converters from official checkpoints to mogazoo (mmpretrain) layouts."""
from .common import load_official_state_dict, save_mmengine_checkpoint
from .moganet import convert_moganet

__all__ = [
    'convert_moganet', 'load_official_state_dict', 'save_mmengine_checkpoint'
]
