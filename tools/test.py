"""Evaluate a checkpoint with mmengine's Runner.

Works for mogazoo's classification configs and for mmdet / mmseg configs.
The checkpoint must fit the model exactly (an official MogaNet / FasterViT /
DGMN2 file is converted in memory); otherwise the tool stops with a summary
of what differs and a non-zero exit.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse

from mogazoo.checkpoint import check_checkpoint
from mogazoo.engine.runner import (RUN_ERRORS, SETUP_ERRORS, build_runner,
                                   one_line_errors, parse_common_args,
                                   prepare_cfg)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the logs')
    parser.add_argument(
        '--out',
        help='dump the predictions (and metrics) to this pickle '
        'file, e.g. for tools/analysis_tools')
    return parse_common_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    with one_line_errors('test.py', SETUP_ERRORS, args.debug):
        check_checkpoint(args.checkpoint)
        cfg = prepare_cfg(args.config, args, mode='test')
        cfg.load_from = args.checkpoint
        if args.out is not None:
            if not args.out.endswith(('.pkl', '.pickle')):
                raise ValueError(f'--out must be a .pkl file, got {args.out}')
            cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
                cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
            cfg.test_evaluator.append(
                dict(type='DumpResults', out_file_path=args.out))
        runner = build_runner(cfg)
    with one_line_errors('test.py', RUN_ERRORS, args.debug):
        return runner.test()


if __name__ == '__main__':
    main()
