"""Pictures of models and runs: learning curves (:mod:`.curves`, matplotlib
only), class activation maps (:mod:`.cam`, with the optional ``grad-cam``
package, imported when a CAM is computed), effective receptive fields
(:mod:`.erf`) and predictions (:mod:`.predictions`)."""
from .cam import (METHODS, CAMResult, compute_cam, compute_cams,
                  default_target_layers, get_layer, informative_target_layers,
                  overlay_cam, save_cam)
from .curves import (collect_curves, find_scalars, load_scalars, plot_curves,
                     read_runs)
from .erf import compute_erf, high_contribution_ratios, save_erf
from .predictions import (BAR_COLOR, enlarge, render_bars, render_prediction,
                          save_rgb)

__all__ = [
    'BAR_COLOR', 'CAMResult', 'METHODS', 'enlarge', 'render_bars',
    'render_prediction', 'save_rgb', 'collect_curves', 'compute_cam',
    'compute_cams', 'compute_erf', 'high_contribution_ratios', 'save_erf',
    'default_target_layers', 'find_scalars', 'get_layer',
    'informative_target_layers', 'load_scalars', 'overlay_cam', 'plot_curves',
    'read_runs', 'save_cam'
]
