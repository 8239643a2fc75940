"""Convert an official DGMN2 checkpoint to a mogazoo (mmengine) one.

    python tools/model_converters/dgmn2_to_mogazoo.py SRC DST [--trust-file]

SRC is a checkpoint as released by fudan-zvg/DGMN2 (DeiT-style: the weights
under ``model``; ``state_dict``, ``module`` or a bare state dict work too).
DST holds ``backbone.*`` and ``head.*`` keys that load with ``strict=True``
into the model of the matching ``configs/dgmn2/dgmn2-<arch>_*_in1k.py``.

The released files also pickle the training arguments (an
``argparse.Namespace``), which ``torch.load`` refuses with
``weights_only=True``; pass ``--trust-file`` for files from a source you
trust.
"""
from mogazoo.checkpoint.converters.common import converter_main
from mogazoo.checkpoint.converters.dgmn2 import convert_dgmn2


def main(argv=None):
    converter_main('dgmn2_to_mogazoo', convert_dgmn2,
                   __doc__.splitlines()[0], argv)


if __name__ == '__main__':
    main()
