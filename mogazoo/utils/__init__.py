"""Helpers that import nothing else of mogazoo: config loading, atomic
file writes, input sizes, FLOPs, deploy switches, benchmark statistics."""
from .config import check_file_exists, configure_device, load_config
from .deploy import switch_to_deploy
from .input_size import pipeline_input_size

__all__ = [
    'check_file_exists', 'configure_device', 'load_config',
    'pipeline_input_size', 'switch_to_deploy'
]
