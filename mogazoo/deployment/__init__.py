"""Export classifiers to ONNX / TorchScript and check the exported files."""
from .export import (FORMATS, ExportWrapper, check_exported, export_meta,
                     export_mode, export_model, load_exported)
from ..utils.input_size import pipeline_input_size  # for the export tool

__all__ = [
    'FORMATS', 'ExportWrapper', 'check_exported', 'export_meta',
    'export_mode', 'export_model', 'load_exported', 'pipeline_input_size'
]
