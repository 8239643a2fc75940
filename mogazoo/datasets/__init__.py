"""Datasets and transforms for your own image folders."""
from .image_folder import (IMG_EXTENSIONS, ImageFolderDataset, ImageFolderScan,
                           scan_image_folder, stratified_split)
from .transforms import CorruptImageError, LoadImageFromFileSafe, ThreeAugment

__all__ = [
    'IMG_EXTENSIONS', 'CorruptImageError', 'ImageFolderDataset',
    'ImageFolderScan', 'LoadImageFromFileSafe', 'ThreeAugment',
    'scan_image_folder', 'stratified_split'
]
