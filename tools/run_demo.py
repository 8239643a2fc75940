"""The README's first command: MogaNet-XT on the bundled digits, end to end.

Prepares ``data/digits`` when absent, trains
``configs/moganet/moganet-xtiny_1xb64_digits.py`` with ``tools/train.py``,
evaluates the final checkpoint with ``tools/test.py`` and prints top-1 and
the time taken.

    python tools/run_demo.py [--work-dir work_dirs/demo] [--data data/digits]
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
#: The panels of the demo's curves.png.
DEMO_CURVES = ['loss', 'lr', 'accuracy/top1']


def step(name, cmd):
    print(f'[demo] {name}: {" ".join(cmd)}', flush=True)
    t0 = time.time()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.time() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data', default='data/digits')
    args = parser.parse_args(argv)
    py = sys.executable
    data_opts = ['--cfg-options'] + [
        f'{loader}.dataset.data_root={args.data}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    t_prep = step(
        'prepare data',
        [py, 'tools/dataset_converters/prepare_digits.py', '--out', args.data])
    t_train = step('train', [
        py, 'tools/train.py', CONFIG, '--work-dir', args.work_dir, *data_opts
    ])
    ckpts = sorted(
        glob.glob(osp.join(ROOT, args.work_dir, 'epoch_*.pth')),
        key=lambda p: int(p.rsplit('_', 1)[1][:-4]))
    if not ckpts:
        sys.exit(f'[demo] no checkpoint in {args.work_dir}')
    test_dir = osp.join(args.work_dir, 'test')
    t_test = step('test', [
        py, 'tools/test.py', CONFIG, ckpts[-1], '--work-dir', test_dir,
        *data_opts
    ])
    runs = sorted(
        glob.glob(osp.join(ROOT, test_dir, '*', '*.json')),
        key=os.path.getmtime)
    with open(runs[-1]) as f:
        metrics = json.load(f)
    print(f'[demo] MogaNet-XT on digits ({args.data}/val): '
          f'top-1 {metrics["accuracy/top1"]:.2f} %, '
          f'top-5 {metrics["accuracy/top5"]:.2f} %')
    curves = osp.join(args.work_dir, 'curves.png')
    # imported here: the demo's first lines come before torch's import
    from mogazoo.visualization import plot_curves
    data = plot_curves([osp.join(ROOT, args.work_dir)],
                       DEMO_CURVES,
                       out=osp.join(ROOT, curves),
                       labels=['MogaNet-XT digits'])
    [acc] = data['curves']['accuracy/top1'].values()
    [(epoch, best)] = data['styles']['accuracy/top1']['best'].values()
    print(f'[demo] learning curves: {curves} (loss, lr, val top-1 at '
          f'{len(acc["step"])} epochs, best {best:.2f} % at epoch {epoch}; '
          'tools/analysis_tools/plot_curves.py)')
    rel_py = osp.relpath(py, ROOT) if py.startswith(ROOT) else py
    print(f'[demo] pictures: {rel_py} demo/image_demo.py IMAGE {CONFIG} '
          f'--checkpoint {osp.relpath(ckpts[-1], ROOT)} --cam --out '
          f'result.png; the web demo: {rel_py} demo/web_demo.py '
          '(http://127.0.0.1:7860)')
    print(f'[demo] time: prepare {t_prep:.0f} s, train {t_train:.0f} s, '
          f'test {t_test:.0f} s, total {t_prep + t_train + t_test:.0f} s')


if __name__ == '__main__':
    main()
