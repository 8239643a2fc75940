"""Plot learning curves (loss, lr, accuracy ...) of one or several runs.

    python tools/analysis_tools/plot_curves.py WORK_DIR [WORK_DIR ...]
        [--keys loss accuracy/top1] [--out curves.png] [--labels A B ...]
        [--figsize 8 3] [--dpi 100] [--title TITLE]

Each WORK_DIR is a run folder (``<work_dir>/<timestamp>``, holding
``vis_data/scalars.json``), a work dir of timestamped runs (its latest run
is plotted, and named), or a ``scalars.json`` file. One subplot per key,
one line per run, mmengine's ``step`` on the x axis: the iteration for
training records (``loss``, ``lr``), the epoch (iteration-based loops: the
iteration) for validation metrics (``accuracy/top1``). Without ``--keys``:
``loss`` and ``accuracy/top1``, those logged. The PNG is ``--figsize``
(inches per subplot) times ``--dpi`` pixels per subplot.
"""
import argparse
import sys
import warnings

from mogazoo.visualization import plot_curves


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'work_dirs',
        nargs='+',
        metavar='WORK_DIR',
        help='run folder, work dir (latest run) or scalars.json')
    parser.add_argument(
        '--keys',
        nargs='+',
        help='scalars to plot (default: loss and accuracy/top1, those '
        'logged)')
    parser.add_argument(
        '--out', default='curves.png', help='output PNG (curves.png)')
    parser.add_argument(
        '--labels', nargs='+', help='legend label of each WORK_DIR')
    parser.add_argument(
        '--figsize',
        type=float,
        nargs=2,
        default=(8., 3.),
        metavar=('W', 'H'),
        help='inches of one subplot (8 3)')
    parser.add_argument('--dpi', type=int, default=100)
    parser.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            data = plot_curves(args.work_dirs, args.keys, args.out,
                               args.labels, args.figsize, args.dpi, args.title)
    except (FileNotFoundError, ValueError, OSError) as exc:
        sys.exit(f'plot_curves.py: error: {exc}')
    for w in caught:
        print(f'warning: {w.message}', file=sys.stderr)
    for run in data['runs']:
        which = f'latest of {run["latest_of"]} runs' \
            if run['latest_of'] > 1 else 'the only run'
        print(f'{run["label"]}: {run["scalars"]} (run {run["run"]}, {which})')
    for key in data['keys']:
        counts = ', '.join(f'{label} {len(points["step"])}'
                           for label, points in data['curves'][key].items())
        print(f'{key}: points per run: {counts}')
    print(f'Saved {args.out}')
    return data


if __name__ == '__main__':
    main()
