"""Evaluation report of a classifier: ROC/AUC, confusion matrix, per-class
precision/recall/F1 and top-k accuracy.

    python tools/analysis_tools/eval_report.py CONFIG CHECKPOINT --out-dir DIR
        [--topk 1 5] [--cfg-options k=v ...]
    python tools/analysis_tools/eval_report.py --results RESULTS.pkl
        --out-dir DIR [--classes NAME ... | --config CONFIG] [--topk 1 5]

The first form runs the model on the config's test set; the second reads the
predictions of ``tools/test.py CONFIG CHECKPOINT --out RESULTS.pkl``. Class
names come from the dataset (its metainfo, or for an image folder its
sub-folder names), ``--classes`` or the checkpoint, else the class indices.
Writes roc.png, confusion_matrix.png, classification_report.csv/.txt and
summary.json into DIR.
"""
import argparse
import sys

from mmengine.config import DictAction

import mogazoo
from mogazoo.apis import dataset_classes, find_config
from mogazoo.engine.runner import check_data_root
from mogazoo.evaluation import (load_results, predict_dataset,
                                results_to_arrays, write_report)
from mogazoo.utils import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'config', nargs='?', help='config file or name (to run the model)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--results', help='a tools/test.py --out pickle')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--classes', nargs='+', help='class names')
    parser.add_argument(
        '--config',
        dest='names_config',
        help='with --results: config whose dataset names '
        'the classes')
    parser.add_argument(
        '--topk',
        type=int,
        nargs='+',
        help='k of the top-k accuracies (default: 1, and 5 '
        'with at least 5 classes)')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.results is None and (args.config is None
                                 or args.checkpoint is None):
        parser.error('give CONFIG and CHECKPOINT, or --results')
    if args.results is not None and args.checkpoint is not None:
        parser.error('--results takes no CHECKPOINT (the predictions are '
                     'in the file)')
    return args


def run_model(args):
    """Scores, labels and class names of the model on its test set."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    model = mogazoo.get_model(args.config, args.checkpoint,
                              **(args.cfg_options or {}))
    check_data_root(model.cfg, 'test_dataloader')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(model.cfg.test_dataloader)
    scores, labels = predict_dataset(model, loader, not args.no_progress)
    classes = loader.dataset.metainfo.get('classes') or \
        model.dataset_meta.get('classes')
    return scores, labels, classes


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.results is None:
            scores, labels, classes = run_model(args)
        else:
            scores, labels = results_to_arrays(load_results(args.results))
            config = args.names_config or args.config
            classes = dataset_classes(
                load_config(
                    find_config(config),
                    args.cfg_options)) if config and not args.classes else None
        classes = args.classes or classes
        topk = args.topk or ((1, 5) if scores.shape[1] >= 5 else (1, ))
        summary = write_report(scores, labels, args.out_dir, classes, topk)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        sys.exit(f'eval_report.py: error: {exc}')
    accs = ', '.join(f'{k} {v:.4f}'
                     for k, v in summary['topk_accuracy'].items())
    print(f"{summary['num_samples']} images, {summary['num_classes']} "
          f"classes: {accs}, macro F1 {summary['macro_avg']['f1']:.4f}, "
          f"macro AUC {summary['macro_avg']['auc']:.4f}")
    print(f'Report written to {args.out_dir}')
    return summary


if __name__ == '__main__':
    main()
