"""High-level inference API: get_model and top-k prediction."""
from .inference import (dataset_classes, find_config, get_model,
                        inference_model, list_models)

__all__ = [
    'dataset_classes', 'find_config', 'get_model', 'inference_model',
    'list_models'
]
