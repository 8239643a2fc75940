"""Train a model with mmengine's Runner.

Works for mogazoo's classification configs and for mmdet / mmseg configs (the
config's ``default_scope`` decides). Without a GPU, distributed runs use gloo.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH] |
        --auto-resume] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import os.path as osp

from mogazoo.engine.hooks import TrainingDivergedError
from mogazoo.engine.runner import (RUN_ERRORS, SETUP_ERRORS, build_runner,
                                   lock_work_dir, one_line_errors,
                                   parse_common_args, prepare_cfg)
from mogazoo.utils.config_checks import (check_amp_device, check_resume,
                                         check_schedule)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory (an error when there is '
        'none)')
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='resume from the latest checkpoint in the work directory if '
        'there is one, else start fresh')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size over '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--check',
        action='store_true',
        help='decode every image of the train and val datasets first; '
        'exit with the list of those that do not load')
    return parse_common_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    with one_line_errors('train.py', SETUP_ERRORS, args.debug):
        cfg = prepare_cfg(args.config, args, mode='train')
        print(
            f'[train.py] config loaded; building the runner (datasets, '
            f'model) for {cfg.work_dir}',
            flush=True)
        if args.no_validate:
            cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        if args.amp:
            check_amp_device()
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if args.auto_resume and args.resume is not None:
            raise ValueError('give --resume or --auto-resume, not both')
        if args.resume == 'auto' or args.auto_resume:
            latest = check_resume(cfg.work_dir, allow_fresh=args.auto_resume)
            cfg.resume, cfg.load_from = latest is not None, None
        elif args.resume is not None:
            if not osp.isfile(args.resume):
                raise FileNotFoundError(
                    f'Checkpoint to resume from not found: {args.resume}')
            cfg.resume, cfg.load_from = True, args.resume
        if args.auto_scale_lr:
            if 'auto_scale_lr' not in cfg:
                raise KeyError(f'--auto-scale-lr needs auto_scale_lr.'
                               f'base_batch_size in {args.config}')
            cfg.auto_scale_lr.enable = True
        check_schedule(cfg)
        if args.check:  # every image decodes, or stop naming them
            from mogazoo.datasets import check_dataset_images
            check_dataset_images(cfg)
        lock_work_dir(cfg.work_dir)  # one run at a time per work dir
        runner = build_runner(cfg)
    runner.logger.info(
        'Runner set up; training starts: the dataloaders are built, then the '
        'first iteration runs (no eta until it, warm-up and compile, is '
        'over)')
    # NaN/inf loss: nothing saved
    with one_line_errors('train.py', RUN_ERRORS + (TrainingDivergedError, ),
                         args.debug):
        runner.train()


if __name__ == '__main__':
    main()
