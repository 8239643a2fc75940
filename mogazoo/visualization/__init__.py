"""Pictures of models and runs: learning curves (:mod:`.curves`, matplotlib
only) and class activation maps (:mod:`.cam`, with the optional
``grad-cam`` package, imported when a CAM is computed)."""
from .cam import (METHODS, CAMResult, compute_cam, compute_cams,
                  default_target_layers, get_layer, overlay_cam, save_cam)
from .curves import (collect_curves, find_scalars, load_scalars, plot_curves,
                     read_runs)

__all__ = [
    'CAMResult', 'METHODS', 'collect_curves', 'compute_cam', 'compute_cams',
    'default_target_layers', 'find_scalars', 'get_layer', 'load_scalars',
    'overlay_cam', 'plot_curves', 'read_runs', 'save_cam'
]
