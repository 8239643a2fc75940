"""Export classifiers to ONNX / TorchScript and check the exported files."""
from ..utils.input_size import pipeline_input_size  # for the export tool
from .export import (FORMATS, ExportWrapper, check_exported, export_meta,
                     export_mode, export_model, load_exported)

__all__ = [
    'FORMATS', 'ExportWrapper', 'check_exported', 'export_meta', 'export_mode',
    'export_model', 'load_exported', 'pipeline_input_size'
]
