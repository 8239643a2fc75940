from .drop_path_warmup_hook import DropPathWarmupHook
from .mesa_hook import MESAHook, mesa_loss
from .num_class_check_hook import NumClassCheckHook
from .sophia_hessian_hook import SophiaHessianHook
from .throughput_hook import ThroughputHook, peak_memory_mb

__all__ = [
    'DropPathWarmupHook', 'MESAHook', 'NumClassCheckHook', 'SophiaHessianHook',
    'ThroughputHook', 'mesa_loss', 'peak_memory_mb'
]
