"""Export classifiers to ONNX / TorchScript and check the exported files."""
from .export import (FORMATS, ExportWrapper, check_exported, export_meta,
                     export_mode, export_model, load_exported,
                     pipeline_input_size)

__all__ = [
    'FORMATS', 'ExportWrapper', 'check_exported', 'export_meta',
    'export_mode', 'export_model', 'load_exported', 'pipeline_input_size'
]
