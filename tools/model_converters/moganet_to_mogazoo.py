"""Convert an official MogaNet checkpoint to a mogazoo (mmengine) one.

    python tools/model_converters/moganet_to_mogazoo.py SRC DST [--ema]

SRC is a checkpoint as released by Westlake-AI/MogaNet (``state_dict``,
``state_dict_ema``, ``model`` or a bare state dict) or by Westlake-AI/openmixup
(MogaNet-T* and the other ``moganet-in1k-weights`` releases: mmcv 1.x's
``{'meta', 'state_dict', 'optimizer'}`` with ``backbone.blocks1.*`` and
``head.fc.*`` keys; ``--ema`` takes the values of its ``ema_*`` EMAHook
buffers, which are dropped otherwise); the layout is told from the keys.
DST holds ``backbone.*`` and ``head.*`` keys that load with ``strict=True``
into the model of the matching ``configs/moganet/moganet-<arch>_*_in1k*.py``.
"""
from mogazoo.checkpoint.converters import convert_moganet
from mogazoo.checkpoint.converters.common import converter_main
from mogazoo.checkpoint.converters.moganet import (is_openmixup_moganet,
                                                   openmixup_ema_keys)


def convert(state_dict):
    """:func:`convert_moganet` (either layout), saying which was read."""
    converted = convert_moganet(state_dict)
    if is_openmixup_moganet(state_dict):
        ema = openmixup_ema_keys(state_dict)
        print('OpenMixup MogaNet classifier layout (backbone.*, head.fc.*)' +
              (f'; {len(ema)} EMAHook buffers ema_* dropped (--ema uses '
               'them)' if ema else ''))
    return converted


def main(argv=None):
    converter_main('moganet_to_mogazoo', convert,
                   __doc__.splitlines()[0], argv)


if __name__ == '__main__':
    main()
