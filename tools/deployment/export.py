"""Export a classifier to ONNX or TorchScript and check it against PyTorch.

    python tools/deployment/export.py CONFIG CHECKPOINT [--format onnx]
        [--out FILE] [--shape H [W]] [--opset 17] [--softmax]
        [--batch-size 1] [--atol 1e-4] [--dynamo] [--cfg-options k=v ...]

CONFIG is a config file or a config name (``mogazoo.list_models()``);
CHECKPOINT may be ``none`` (random weights). The exported network takes a
preprocessed ``N x 3 x H x W`` float batch (the data preprocessor's channel
order and normalization, stored in the file's ``mogazoo`` metadata) and
returns logits (softmax scores with ``--softmax``); the batch axis is
dynamic. After export the file is run (onnxruntime / ``torch.jit.load``) on
a random batch of ``batch size + 2`` next to PyTorch; the tool exits with
status 1 when ``max |diff| > atol * max(1, max |pytorch output|)``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

import mogazoo
from mogazoo.apis import find_config
from mogazoo.deployment import FORMATS, check_exported, export_model
from mogazoo.utils import pipeline_input_size


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file or config name')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none'")
    parser.add_argument('--format', choices=sorted(FORMATS), default='onnx')
    parser.add_argument(
        '--out',
        help='output file (default: work_dirs/<config name>/'
        '<config name>.onnx or .pt)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H [W] (default: the '
        "size of the config's test pipeline, else 224)")
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset')
    parser.add_argument(
        '--softmax',
        action='store_true',
        help='export softmax scores instead of logits')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='batch of the example input of the export')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='tolerance of the check: '
        'max |diff| <= atol * max(1, max |output|)')
    parser.add_argument(
        '--dynamo',
        action='store_true',
        help='ONNX through the torch.export-based exporter')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    if args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    try:
        model = mogazoo.get_model(args.config, ckpt, **(args.cfg_options
                                                        or {}))
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'export.py: error: {exc}')
    if args.shape is None:
        shape = pipeline_input_size(model.cfg, default=(224, 224))
    else:
        shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    out = args.out
    if out is None:
        name = osp.splitext(osp.basename(find_config(args.config)))[0]
        out = osp.join('work_dirs', name, name + FORMATS[args.format])
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)

    export_model(model, out, args.format, shape, args.batch_size, args.softmax,
                 args.opset, args.dynamo)
    kind = 'softmax scores' if args.softmax else 'logits'
    print(f'Exported {args.format} to {out}: input N x 3 x {shape[0]} x '
          f'{shape[1]} (dynamic N), output {kind}')
    res = check_exported(model, out, args.format, shape, args.batch_size + 2,
                         args.softmax, args.atol)
    print(f"Check at batch {args.batch_size + 2}: max abs diff "
          f"{res['max_abs_diff']:.3g} (max |output| {res['max_abs_ref']:.3g},"
          f" tolerance {res['tolerance']:.3g})")
    if not res['passed']:
        sys.exit('export.py: error: the exported model differs from PyTorch '
                 'beyond the tolerance')
    print('OK')
    return res


if __name__ == '__main__':
    main()
