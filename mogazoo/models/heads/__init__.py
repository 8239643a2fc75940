"""Decode heads for mmsegmentation that mmseg 1.x lacks.

Imported on demand (``custom_imports=dict(imports=['mogazoo',
'mogazoo.models.heads'])``) so that ``import mogazoo`` does not import mmseg.
"""
from .setr_mla_head import PyramidSETRMLAHead

__all__ = ['PyramidSETRMLAHead']
