from ..registry_hint import install as _install_registry_hint
from .backbones import *  # noqa: F401,F403
from .distill import *  # noqa: F401,F403

# registry builds of mogazoo names in the wrong scope say which one to use
_install_registry_hint()
