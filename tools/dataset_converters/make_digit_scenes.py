"""Compose the bundled UCI digits into small scenes for detection and
segmentation.

    python tools/dataset_converters/make_digit_scenes.py
        [--out data/digit_scenes] [--num-train 600] [--num-val 150]
        [--size 64] [--seed 0] [--force]

Each scene is a ``size x size`` image with 1-3 digits pasted at random scale
(``size/4`` to ``size*7/16`` pixels) and place, without overlap, over a dim
noisy background. Digits of the train and val scenes come from disjoint
halves of the 1,797 images. Written:

- ``OUT/{train,val}/*.png`` and ``OUT/annotations/instances_{train,val}.json``:
  a COCO instance set (boxes and RLE masks of the digit strokes; categories
  ``0``-``9``) for mmdet's ``CocoDataset``;
- ``OUT/images/{training,validation}/*.png`` and
  ``OUT/annotations/{training,validation}/*.png``: an ADE20K-layout semantic
  set whose labels are 0 = background and 1-10 = digits 0-9.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
from PIL import Image

CLASSES = tuple(str(i) for i in range(10))


def paste_scene(rng, size, pool, images, labels):
    """One scene: image (H, W, 3) uint8, semantic map, and instances."""
    canvas = rng.integers(0, 40, (size, size)).astype(np.float32)
    semantic = np.zeros((size, size), np.uint8)
    taken = np.zeros((size, size), bool)
    instances = []
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            side = int(rng.integers(size // 4, size * 7 // 16 + 1))
            y, x = (int(v) for v in rng.integers(0, size - side + 1, 2))
            if not taken[y:y + side, x:x + side].any():
                break
        else:
            continue
        i = int(rng.choice(pool))
        digit = np.asarray(
            Image.fromarray((images[i] * (255 / 16)).astype(np.uint8)).resize(
                (side, side), Image.BILINEAR), np.float32)
        stroke = digit > 96
        if stroke.sum() < 4:
            continue
        region = canvas[y:y + side, x:x + side]
        canvas[y:y + side, x:x + side] = np.maximum(region, digit)
        taken[y:y + side, x:x + side] = True
        mask = np.zeros((size, size), bool)
        mask[y:y + side, x:x + side] = stroke
        semantic[mask] = labels[i] + 1
        ys, xs = np.nonzero(mask)
        instances.append(
            dict(
                label=int(labels[i]),
                mask=mask,
                bbox=[
                    int(xs.min()),
                    int(ys.min()),
                    int(xs.max() - xs.min() + 1),
                    int(ys.max() - ys.min() + 1)
                ]))
    image = np.repeat(canvas.clip(0, 255).astype(np.uint8)[..., None], 3, 2)
    return image, semantic, instances


def write_split(out, split, ade_split, num, size, pool, digits, rng):
    from pycocotools import mask as mask_utils
    os.makedirs(osp.join(out, split), exist_ok=True)
    os.makedirs(osp.join(out, 'images', ade_split), exist_ok=True)
    os.makedirs(osp.join(out, 'annotations', ade_split), exist_ok=True)
    coco = dict(
        images=[],
        annotations=[],
        categories=[dict(id=i + 1, name=c) for i, c in enumerate(CLASSES)])
    for img_id in range(num):
        image, semantic, instances = paste_scene(rng, size, pool,
                                                 digits.images, digits.target)
        name = f'{img_id:05d}.png'
        Image.fromarray(image).save(osp.join(out, split, name))
        Image.fromarray(image).save(osp.join(out, 'images', ade_split, name))
        Image.fromarray(semantic).save(
            osp.join(out, 'annotations', ade_split, name))
        coco['images'].append(
            dict(id=img_id, file_name=name, height=size, width=size))
        for inst in instances:
            rle = mask_utils.encode(np.asfortranarray(inst['mask']))
            rle['counts'] = rle['counts'].decode('ascii')
            coco['annotations'].append(
                dict(
                    id=len(coco['annotations']) + 1,
                    image_id=img_id,
                    category_id=inst['label'] + 1,
                    bbox=inst['bbox'],
                    area=int(inst['mask'].sum()),
                    segmentation=rle,
                    iscrowd=0))
    with open(osp.join(out, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(coco, f)
    return len(coco['annotations'])


def make(out, num_train=600, num_val=150, size=64, seed=0, force=False):
    from sklearn.datasets import load_digits
    meta = dict(num_train=num_train, num_val=num_val, size=size, seed=seed)
    meta_path = osp.join(out, 'meta.json')
    if not force and osp.isfile(meta_path):
        with open(meta_path) as f:
            if json.load(f) == meta:
                print(f'{out} is complete')
                return meta
    shutil.rmtree(out, ignore_errors=True)
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    half = len(order) // 2
    n_tr = write_split(out, 'train', 'training', num_train, size, order[:half],
                       digits, rng)
    n_va = write_split(out, 'val', 'validation', num_val, size, order[half:],
                       digits, rng)
    with open(meta_path, 'w') as f:
        json.dump(meta, f)
    print(f'Wrote {num_train} train scenes ({n_tr} digits) and {num_val} val '
          f'scenes ({n_va} digits) to {out}')
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/digit_scenes')
    parser.add_argument('--num-train', type=int, default=600)
    parser.add_argument('--num-val', type=int, default=150)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args(argv)
    if args.size < 32:
        sys.exit(f'--size must be at least 32, got {args.size}')
    make(args.out, args.num_train, args.num_val, args.size, args.seed,
         args.force)


if __name__ == '__main__':
    main()
