"""Convert an official MogaNet checkpoint to a mogazoo (mmengine) one.

    python tools/model_converters/moganet_to_mogazoo.py SRC DST [--ema]

SRC is a checkpoint as released by Westlake-AI/MogaNet (``state_dict``,
``state_dict_ema``, ``model`` or a bare state dict). DST holds
``backbone.*`` and ``head.*`` keys that load with ``strict=True`` into the
model of the matching ``configs/moganet/moganet-<arch>_*_in1k.py``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mogazoo.converters import (convert_moganet,  # noqa: E402
                                load_official_state_dict,
                                save_mmengine_checkpoint)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='where to write the mogazoo checkpoint')
    parser.add_argument('--ema', action='store_true',
                        help='convert state_dict_ema instead of state_dict')
    parser.add_argument(
        '--trust-file', action='store_true',
        help='allow arbitrary pickled objects in SRC (only for trusted files)')
    args = parser.parse_args(argv)
    try:
        state_dict = load_official_state_dict(args.src, args.ema,
                                              args.trust_file)
        converted = convert_moganet(state_dict)
    except (FileNotFoundError, RuntimeError, KeyError, ValueError) as exc:
        sys.exit(f'moganet_to_mogazoo: error: {exc}')
    save_mmengine_checkpoint(
        converted, args.dst,
        meta=dict(source=osp.basename(args.src), ema=args.ema,
                  converter='moganet_to_mogazoo'))
    print(f'Converted {len(converted)} tensors from {args.src} to {args.dst}')


if __name__ == '__main__':
    main()
