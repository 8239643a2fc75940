"""Split a folder of class folders into train and val annotation files
(``tools/dataset_converters/split_dataset.py``).

:func:`split_folder` writes, to ``out_dir`` (default: the folder), without
copying any image:

- ``train.txt`` and ``val.txt``: lines ``<class>/<file> <class index>``, paths
  relative to the folder (mmpretrain ``CustomDataset`` annotation files);
- ``classes.txt``: the class names, one a line, in index order;
- ``split.json``: the settings and counts.

The split is :func:`~mogazoo.datasets.stratified_split` (per class
``round(n * val_ratio)`` images go to val, at least one of every class with
two or more images) and depends only on the file names, ``val_ratio`` and
``seed``. Class folders without images, files that are not images and files
outside class folders are named and left out. ``check=True`` decodes every
image as training will and names (and leaves out) those that do not
decode. ``configs/_base_/datasets/image_folder.py`` reads the result with
``data_root=ROOT``.
"""
import json
import os
import os.path as osp

from .check import find_corrupt_images
from .image_folder import scan_image_folder, stratified_split


def find_corrupt(root, paths, jobs=4):
    """The paths (relative to ``root``) whose images do not load with
    :class:`LoadImageFromFileSafe`, each with the reason (see
    :func:`mogazoo.datasets.find_corrupt_images`)."""
    bad = dict(find_corrupt_images([osp.join(root, p) for p in paths], jobs))
    return [(p, bad[osp.join(root, p)]) for p in paths
            if osp.join(root, p) in bad]


def split_folder(root,
                 val_ratio=0.2,
                 seed=0,
                 out_dir=None,
                 check=False,
                 jobs=4,
                 log=print):
    """Write the split of ``root`` (see the module doc) and return its
    summary (what ``split.json`` holds)."""
    scan = scan_image_folder(root)
    if {'train', 'val'} <= set(scan.classes):
        raise ValueError(
            f'{root} already has train/ and val/ folders: the image-folder '
            'config reads them as they are (data_root=ROOT); split_dataset.py'
            ' is for a folder of class folders')
    for line in scan.problems(root):
        log(f'warning: {line}')
    samples = scan.samples
    corrupt = []
    if check:
        corrupt = find_corrupt(root, [p for p, _ in samples], jobs)
        bad = {p for p, _ in corrupt}
        samples = [s for s in samples if s[0] not in bad]
        log(f'checked {len(scan.samples)} images: {len(corrupt)} do not '
            'load' + (' and are left out:' if corrupt else ''))
        for _, reason in corrupt:
            log(f'  {reason}')
    if not samples:
        raise ValueError(f'No readable images in the class folders of {root}')
    counts = {c: 0 for c in scan.classes}
    for _, label in samples:
        counts[scan.classes[label]] += 1
    classes = [c for c in scan.classes if counts[c]]
    if len(classes) < len(scan.classes):
        log(f'warning: class(es) with no readable image left out: '
            f'{sorted(set(scan.classes) - set(classes))}')
    index = {c: i for i, c in enumerate(classes)}
    samples = [(p, index[scan.classes[label]]) for p, label in samples]
    single = [c for c in classes if counts[c] == 1]
    if single:
        log(f'warning: class(es) with a single image, which goes to train '
            f'only: {single}')
    train, val = stratified_split([label for _, label in samples], val_ratio,
                                  seed)
    out_dir = out_dir or root
    os.makedirs(out_dir, exist_ok=True)
    for name, indices in (('train', train), ('val', val)):
        with open(osp.join(out_dir, f'{name}.txt'), 'w') as f:
            f.writelines(f'{samples[i][0]} {samples[i][1]}\n' for i in indices)
    with open(osp.join(out_dir, 'classes.txt'), 'w') as f:
        f.writelines(f'{c}\n' for c in classes)
    summary = dict(
        root=osp.abspath(root),
        val_ratio=val_ratio,
        seed=seed,
        classes=len(classes),
        train=len(train),
        val=len(val),
        left_out=dict(
            empty_classes=scan.empty_classes,
            non_images=len(scan.non_images),
            loose_files=len(scan.loose_files),
            corrupt=[p for p, _ in corrupt]))
    with open(osp.join(out_dir, 'split.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    log(f'{len(classes)} classes: {len(train)} train / {len(val)} val images'
        f' -> {out_dir}/{{train,val,classes}}.txt')
    return summary
