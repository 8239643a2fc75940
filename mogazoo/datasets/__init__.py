"""Datasets and transforms for your own image folders, and a check that
every image of a dataset decodes."""
from .check import (CorruptDatasetError, check_dataset_images,
                    dataset_image_paths, find_corrupt_images, pipeline_loader)
from .image_folder import (IMG_EXTENSIONS, ImageFolderDataset, ImageFolderScan,
                           scan_image_folder, stratified_split)
from .split import split_folder
from .transforms import (CorruptImageError, ImageTooLargeError,
                         LoadImageFromFileSafe, ThreeAugment)

__all__ = [
    'IMG_EXTENSIONS', 'CorruptDatasetError', 'CorruptImageError',
    'ImageTooLargeError', 'ImageFolderDataset', 'ImageFolderScan',
    'LoadImageFromFileSafe', 'ThreeAugment', 'check_dataset_images',
    'dataset_image_paths', 'find_corrupt_images', 'pipeline_loader',
    'scan_image_folder', 'split_folder', 'stratified_split'
]
