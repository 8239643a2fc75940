from .drop_path_warmup_hook import DropPathWarmupHook
from .num_class_check_hook import NumClassCheckHook
from .sophia_hessian_hook import SophiaHessianHook
from .throughput_hook import ThroughputHook, peak_memory_mb

__all__ = [
    'DropPathWarmupHook', 'NumClassCheckHook', 'SophiaHessianHook',
    'ThroughputHook', 'peak_memory_mb'
]
