"""Converters from official checkpoints to mogazoo (mmpretrain) layouts."""
from .common import (converter_main, load_official_state_dict,
                     save_mmengine_checkpoint, select_state_dict)
from .dgmn2 import convert_dgmn2
from .fastervit import convert_fastervit
from .moganet import convert_moganet
from .moganet_downstream import (convert_moganet_det,
                                 convert_moganet_downstream,
                                 convert_moganet_seg)

__all__ = [
    'convert_dgmn2', 'convert_fastervit', 'convert_moganet',
    'convert_moganet_det', 'convert_moganet_downstream', 'convert_moganet_seg',
    'converter_main', 'load_official_state_dict', 'save_mmengine_checkpoint',
    'select_state_dict'
]
