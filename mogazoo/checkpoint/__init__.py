"""Checkpoints: read safely, recognise and convert official layouts, fit to
a model, download and cache. Every path that loads weights goes through
:func:`load_checkpoint` (see :mod:`.load`)."""
from .converters.official import convert_if_official, detect_official
from .fit import CheckpointMismatchError, check_fit
from .hub import DownloadError, download, model_index
from .io import (UnsafeFileError, check_checkpoint, load_plain_pickle,
                 load_torch_file)
from .keys import rename_keys, strip_module
from .load import (checkpoint_state_dict, load_checkpoint, load_state_dict,
                   load_url)

__all__ = [
    'CheckpointMismatchError', 'DownloadError', 'UnsafeFileError',
    'check_checkpoint', 'check_fit', 'checkpoint_state_dict',
    'convert_if_official', 'detect_official', 'download', 'load_checkpoint',
    'load_plain_pickle', 'load_state_dict', 'load_torch_file', 'load_url',
    'model_index', 'rename_keys', 'strip_module'
]
