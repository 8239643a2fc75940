"""Split a folder of class folders into train and val annotation files.

    python tools/dataset_converters/split_dataset.py ROOT [--val-ratio 0.2]
        [--seed 0] [--out-dir DIR] [--check] [--jobs 4]

ROOT holds one folder of images per class (``ROOT/<class>/**/*.jpg``). Writes,
to ``--out-dir`` (default ROOT), without copying any image:

- ``train.txt`` and ``val.txt``: lines ``<class>/<file> <class index>``, paths
  relative to ROOT (mmpretrain ``CustomDataset`` annotation files);
- ``classes.txt``: the class names, one a line, in index order;
- ``split.json``: the settings and counts.

The split is stratified (per class ``round(n * val_ratio)`` images go to val,
at least one of every class with two or more images) and depends only on the
file names, ``--val-ratio`` and ``--seed``. Class folders without images,
files that are not images and files outside class folders are named and left
out. ``--check`` decodes every image as training will and names (and leaves
out) those that do not decode. ``configs/_base_/datasets/image_folder.py``
reads the result with ``data_root=ROOT``.
"""
import argparse
import sys

from mogazoo.datasets.split import split_folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='folder of class folders')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=0.2,
        help='share of each class that goes to val')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out-dir', help='where to write the files (default: ROOT)')
    parser.add_argument(
        '--check',
        action='store_true',
        help='decode every image; leave out and name those '
        'that fail')
    parser.add_argument(
        '--jobs',
        type=int,
        default=4,
        help='threads decoding images for --check')
    args = parser.parse_args(argv)
    try:
        split_folder(args.root, args.val_ratio, args.seed, args.out_dir,
                     args.check, args.jobs)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f'split_dataset.py: error: {exc}')


if __name__ == '__main__':
    main()
