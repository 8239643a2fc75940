from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .runner import (SAFETY_HOOKS, add_safety_hooks, build_runner,
                     check_data_root, parse_common_args, prepare_cfg)

__all__ = [
    'SAFETY_HOOKS', 'add_safety_hooks', 'build_runner', 'check_data_root',
    'parse_common_args', 'prepare_cfg'
]
