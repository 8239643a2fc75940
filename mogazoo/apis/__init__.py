"""High-level inference API: get_model and top-k prediction, and detection
/ segmentation inference drawn with mmdet's / mmseg's visualizers."""
from .downstream import (downstream_task, inference_downstream,
                         init_downstream_model, render_downstream)
from .inference import (dataset_classes, find_config, get_model,
                        inference_model, list_models)

__all__ = [
    'dataset_classes', 'downstream_task', 'find_config', 'get_model',
    'inference_downstream', 'inference_model', 'init_downstream_model',
    'list_models', 'render_downstream'
]
