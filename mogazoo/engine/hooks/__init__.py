from .drop_path_warmup_hook import DropPathWarmupHook
from .throughput_hook import ThroughputHook, peak_memory_mb

__all__ = ['DropPathWarmupHook', 'ThroughputHook', 'peak_memory_mb']
