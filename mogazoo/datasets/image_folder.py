"""Your own folder of images as an mmpretrain dataset.

A folder of class sub-folders is scanned by :func:`scan_image_folder` (also
used by ``tools/dataset_converters/split_dataset.py``) and read by
:class:`ImageFolderDataset`, which finds either of two layouts by itself::

    ROOT/train/<class>/**/*.jpg      ROOT/<class>/**/*.jpg
    ROOT/val/<class>/**/*.jpg        ROOT/train.txt, ROOT/val.txt,
                                     ROOT/classes.txt  (split_dataset.py)
"""
import logging
import os
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

#: File endings read as images (mmpretrain's list, plus ``.tiff`` and
#: ``.webp``, which OpenCV decodes too). Case is ignored.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


class ImageFolderScan(NamedTuple):
    """What :func:`scan_image_folder` found under a root.

    Attributes:
        classes (list[str]): Sorted class folders holding at least one image.
        samples (list[tuple[str, int]]): ``(path, class index)``, the path
            relative to the root with ``/`` separators, sorted.
        empty_classes (list[str]): Class folders without any image; they are
            not classes.
        non_images (list[str]): Files in class folders whose ending is not
            an image ending (relative paths); they are left out.
        loose_files (list[str]): Files directly in the root, outside any
            class folder; they are left out.
    """
    classes: List[str]
    samples: List[Tuple[str, int]]
    empty_classes: List[str]
    non_images: List[str]
    loose_files: List[str]

    def problems(self, root: str, limit: int = 10) -> List[str]:
        """One readable line for each kind of thing that was left out."""

        def names(items):
            more = f' (+{len(items) - limit} more)' if len(items) > limit \
                else ''
            return ', '.join(items[:limit]) + more

        lines = []
        if self.empty_classes:
            lines.append(f'{len(self.empty_classes)} class folder(s) of '
                         f'{root} hold no image and are not classes: '
                         f'{names(self.empty_classes)}')
        if self.non_images:
            lines.append(f'{len(self.non_images)} file(s) in {root} are not '
                         f'images ({"/".join(IMG_EXTENSIONS)}) and are left '
                         f'out: {names(self.non_images)}')
        if self.loose_files:
            lines.append(f'{len(self.loose_files)} file(s) directly in {root}'
                         f' are in no class folder and are left out: '
                         f'{names(self.loose_files)}')
        return lines


def scan_image_folder(
        root: str,
        extensions: Sequence[str] = IMG_EXTENSIONS) -> ImageFolderScan:
    """List the images of a folder of class folders, ``ROOT/<class>/**``.

    Every sub-folder of ``root`` holding at least one image (at any depth) is
    a class; classes are sorted by name and numbered from 0. Hidden files and
    folders (``.DS_Store``, ``.ipynb_checkpoints``) are skipped silently;
    everything else that is left out is reported in the result.

    Args:
        root (str): The folder.
        extensions (Sequence[str]): File endings that are images, any case.
            Defaults to :data:`IMG_EXTENSIONS`.

    Returns:
        ImageFolderScan: Classes, samples and what was left out.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'Image folder not found: {root}')
    extensions = tuple(e.lower() for e in extensions)
    entries = sorted(e for e in os.listdir(root) if not e.startswith('.'))
    folders = [e for e in entries if osp.isdir(osp.join(root, e))]
    loose = [e for e in entries if not osp.isdir(osp.join(root, e))]
    images, non_images = {}, []
    for folder in folders:
        images[folder] = []
        for dirpath, dirnames, filenames in os.walk(
                osp.join(root, folder), followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
            for name in sorted(filenames):
                if name.startswith('.'):
                    continue
                rel = osp.relpath(osp.join(dirpath, name), root)
                rel = rel.replace(os.sep, '/')
                if name.lower().endswith(extensions):
                    images[folder].append(rel)
                else:
                    non_images.append(rel)
    classes = [f for f in folders if images[f]]
    samples = [(path, idx) for idx, c in enumerate(classes)
               for path in images[c]]
    return ImageFolderScan(classes, samples,
                           [f for f in folders if not images[f]], non_images,
                           loose)


def stratified_split(labels: Sequence[int], val_ratio: float,
                     seed: int) -> Tuple[List[int], List[int]]:
    """Split sample indices into train and val, class by class.

    For each class (in increasing label order) its indices are shuffled by
    one seeded generator and the first ``round(n * val_ratio)`` go to val,
    but at least one and at most ``n - 1``: every class with two or more
    samples has both train and val samples; a single sample goes to train.

    Args:
        labels (Sequence[int]): The class of every sample.
        val_ratio (float): Share of each class that goes to val, in (0, 1).
        seed (int): Seed of the shuffle; the split depends only on the
            labels, ``val_ratio`` and ``seed``.

    Returns:
        tuple[list[int], list[int]]: Sorted train and val indices.
    """
    if not 0 < val_ratio < 1:
        raise ValueError(f'val_ratio must be in (0, 1), got {val_ratio}')
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = min(max(int(round(len(idx) * val_ratio)), 1), len(idx) - 1)
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return sorted(train), sorted(val)


@DATASETS.register_module()
class ImageFolderDataset(CustomDataset):
    """A classification dataset from a folder of class folders.

    Names only the folder (``data_root``) and the split; the layout is found
    in this order:

    1. ``ann_file`` if given: lines ``relative/path.png class_index`` with
       paths relative to ``data_root``, classes from ``classes.txt`` beside
       the annotation file;
    2. ``data_root/<split>.txt`` (and ``data_root/classes.txt``), as
       ``tools/dataset_converters/split_dataset.py`` writes them for a
       ``data_root/<class>/`` folder;
    3. ``data_root/<split>/<class>/**`` image folders.

    In the folder layout the classes are the class folders of
    ``data_root/<class_split>`` (the train folder) that hold images, so that
    train and val number them alike even when val lacks a class; a val class
    that train does not have is an error. Empty class folders, files that
    are not images and files outside class folders are left out with a
    warning that names them.

    Args:
        data_root (str): The folder.
        split (str): ``'train'``, ``'val'``, ``'test'`` or any name of a
            sub-folder / annotation file. Defaults to ``'train'``.
        ann_file (str): An annotation file, relative to ``data_root`` or
            absolute, to use instead of the layouts above. Defaults to ''.
        classes (str | Sequence[str], optional): Class names, or a file of
            one name a line, overriding those found. Defaults to None.
        class_split (str): The split whose class folders are the classes in
            the folder layout (when it exists). Defaults to ``'train'``.
        extensions (Sequence[str]): Image file endings, any case.
            Defaults to :data:`IMG_EXTENSIONS`.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``lazy_init``, ...).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = '',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 class_split: str = 'train',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs):
        if not data_root:
            raise ValueError('ImageFolderDataset needs data_root')
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'Image folder not found: {data_root}')
        self.split = split
        self._scan = None
        if not ann_file and osp.isfile(osp.join(data_root, f'{split}.txt')):
            ann_file = f'{split}.txt'
        if ann_file:
            ann_path = ann_file if osp.isabs(ann_file) else osp.join(
                data_root, ann_file)
            if not osp.isfile(ann_path):
                raise FileNotFoundError(
                    f'Annotation file not found: {ann_path}')
            data_prefix = ''
            if classes is None:
                classes = osp.join(osp.dirname(ann_path), 'classes.txt')
                if not osp.isfile(classes):
                    raise FileNotFoundError(
                        f'{classes} not found: the class names of {ann_path}'
                        ' (one a line, in index order; split_dataset.py '
                        'writes it), or pass classes=')
        elif osp.isdir(osp.join(data_root, split)):
            data_prefix = split
            if classes is None:
                classes = self._folder_classes(data_root, split, class_split,
                                               extensions)
        else:
            raise FileNotFoundError(
                f'{data_root} has neither a {split}/ folder of class folders'
                f' nor a {split}.txt annotation file. For a folder of class '
                'folders, write the split with: python tools/'
                f'dataset_converters/split_dataset.py {data_root}')
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix,
            ann_file=ann_file,
            classes=classes,
            extensions=extensions,
            **kwargs)

    def _folder_classes(self, data_root, split, class_split, extensions):
        """Class names of the folder layout, from ``class_split`` when it
        exists, else from ``split``; the scan is kept when it is ``split``'s
        own."""
        source = class_split if osp.isdir(osp.join(data_root,
                                                   class_split)) else split
        scan = scan_image_folder(osp.join(data_root, source), extensions)
        if source == split:
            self._scan = scan
        if not scan.classes:
            raise RuntimeError(
                f'No images in the class folders of {data_root}/{source} '
                f'(image endings: {", ".join(extensions)})')
        return scan.classes

    def load_data_list(self):
        """Read the samples, checking labels against the classes."""
        classes = list(self.CLASSES)
        if self.ann_file:
            data_list = super().load_data_list()
            for info in data_list:
                if not 0 <= info['gt_label'] < len(classes):
                    raise ValueError(
                        f'{self.ann_file}: label {info["gt_label"]} of '
                        f'{info["img_path"]} is not in 0..{len(classes) - 1}'
                        f' ({len(classes)} classes)')
            if not data_list:
                raise RuntimeError(f'{self.ann_file} lists no image')
            return data_list
        scan = self._scan or scan_image_folder(self.img_prefix,
                                               self.extensions)
        for line in scan.problems(self.img_prefix):
            print_log(line, logger='current', level=logging.WARNING)
        unknown = sorted(set(scan.classes) - set(classes))
        if unknown:
            raise ValueError(
                f'{self.img_prefix} has class folder(s) {unknown} that are '
                f'not among the {len(classes)} classes {classes[:20]} (the '
                'image-holding class folders of the train split)')
        if not scan.samples:
            raise RuntimeError(f'No images in the class folders of '
                               f'{self.img_prefix}')
        index = {c: i for i, c in enumerate(classes)}
        return [
            dict(
                img_path=osp.join(self.img_prefix, path),
                gt_label=index[scan.classes[label]])
            for path, label in scan.samples
        ]
