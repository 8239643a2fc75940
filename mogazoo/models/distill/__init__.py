"""Knowledge distillation (DeiT-style soft and hard)."""
from .distill_classifier import DistillImageClassifier, distillation_loss

__all__ = ['DistillImageClassifier', 'distillation_loss']
