from .compat import allow_mmengine_checkpoints
from .deploy import switch_to_deploy
from .input_size import pipeline_input_size
from .safe_load import (UnsafeFileError, load_plain_pickle, load_torch_file,
                        torch_file_globals)
from .setup_env import (check_checkpoint, check_file_exists, configure_device,
                        load_config, register_all_modules)

__all__ = [
    'allow_mmengine_checkpoints', 'check_checkpoint', 'check_file_exists',
    'configure_device', 'load_config', 'load_plain_pickle', 'load_torch_file',
    'pipeline_input_size', 'register_all_modules', 'switch_to_deploy',
    'torch_file_globals', 'UnsafeFileError'
]
