"""Convert an official MogaNet checkpoint to a mogazoo (mmengine) one.

    python tools/model_converters/moganet_to_mogazoo.py SRC DST [--ema]

SRC is a checkpoint as released by Westlake-AI/MogaNet (``state_dict``,
``state_dict_ema``, ``model`` or a bare state dict). DST holds
``backbone.*`` and ``head.*`` keys that load with ``strict=True`` into the
model of the matching ``configs/moganet/moganet-<arch>_*_in1k.py``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mogazoo.converters import convert_moganet  # noqa: E402
from mogazoo.converters.common import converter_main  # noqa: E402

if __name__ == '__main__':
    converter_main('moganet_to_mogazoo', convert_moganet,
                   __doc__.splitlines()[0])
