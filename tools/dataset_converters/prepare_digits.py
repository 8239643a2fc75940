"""Write scikit-learn's UCI handwritten digits as an image-folder dataset.

    python tools/dataset_converters/prepare_digits.py [--out data/digits]
        [--val-ratio 0.2] [--seed 0] [--force]

The 1,797 8x8 grey images (10 classes) that ship with scikit-learn are written
as PNGs to ``OUT/{train,val}/<class>/<index>.png`` with a stratified split
(``mogazoo.datasets.stratified_split``) that depends only on ``--val-ratio``
and ``--seed``; ``OUT/meta.json`` records the split and counts. An existing
complete dataset is left as it is (so the demo can call this every time);
``--force`` rewrites it.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
from PIL import Image

from mogazoo.datasets import stratified_split

CLASSES = [str(i) for i in range(10)]


def is_complete(out, meta):
    """True if ``out`` holds the dataset ``meta`` describes."""
    path = osp.join(out, 'meta.json')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        old = json.load(f)
    if old != meta:
        return False
    for split in ('train', 'val'):
        found = sum(
            len(files) for _, _, files in os.walk(osp.join(out, split)))
        if found != meta['counts'][split]:
            return False
    return True


def prepare(out, val_ratio=0.2, seed=0, force=False):
    from sklearn.datasets import load_digits
    digits = load_digits()
    images, labels = digits.images, digits.target
    train, val = stratified_split(labels, val_ratio, seed)
    meta = dict(
        source='sklearn.datasets.load_digits',
        classes=CLASSES,
        val_ratio=val_ratio,
        seed=seed,
        counts=dict(train=len(train), val=len(val)))
    if not force and is_complete(out, meta):
        print(f'{out} is complete ({len(train)} train / {len(val)} val)')
        return meta
    for split in ('train', 'val'):
        shutil.rmtree(osp.join(out, split), ignore_errors=True)
    for split, indices in (('train', train), ('val', val)):
        for c in CLASSES:
            os.makedirs(osp.join(out, split, c), exist_ok=True)
        for i in indices:
            # pixel values 0..16 -> 0..255
            img = np.round(images[i] * (255 / 16)).astype(np.uint8)
            Image.fromarray(img).save(
                osp.join(out, split, CLASSES[labels[i]], f'{i:04d}.png'))
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    print(f'Wrote {len(train)} train / {len(val)} val images to {out}')
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/digits')
    parser.add_argument('--val-ratio', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    if not 0 < args.val_ratio < 1:
        sys.exit(f'--val-ratio must be in (0, 1), got {args.val_ratio}')
    prepare(args.out, args.val_ratio, args.seed, args.force)


if __name__ == '__main__':
    main()
