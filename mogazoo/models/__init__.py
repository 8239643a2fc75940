from .backbones import *  # noqa: F401,F403
from .distill import *  # noqa: F401,F403
