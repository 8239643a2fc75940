from .throughput_hook import ThroughputHook, peak_memory_mb

__all__ = ['ThroughputHook', 'peak_memory_mb']
