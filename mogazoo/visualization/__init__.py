"""Pictures of models and runs: learning curves (:mod:`.curves`, matplotlib
only) and class activation maps (:mod:`.cam`, needs the optional
``grad-cam`` package, imported when used)."""
from .curves import (collect_curves, find_scalars, load_scalars, plot_curves,
                     read_runs)

__all__ = [
    'collect_curves', 'find_scalars', 'load_scalars', 'plot_curves',
    'read_runs'
]
