from .checkpoint_fit_hook import CheckpointFitHook
from .checkpoint_hook import AtomicCheckpointHook
from .compile_report_hook import CompileReportHook
from .drop_path_warmup_hook import DropPathWarmupHook
from .finite_check_hook import FiniteCheckHook, TrainingDivergedError
from .mesa_hook import MESAHook, mesa_loss
from .num_class_check_hook import NumClassCheckHook
from .sophia_hessian_hook import SophiaHessianHook
from .throughput_hook import ThroughputHook, peak_memory_mb
from .timer_hook import WarmupIterTimerHook

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFitHook', 'CompileReportHook',
    'DropPathWarmupHook', 'FiniteCheckHook', 'MESAHook', 'NumClassCheckHook',
    'SophiaHessianHook', 'ThroughputHook', 'TrainingDivergedError',
    'WarmupIterTimerHook', 'mesa_loss', 'peak_memory_mb'
]
