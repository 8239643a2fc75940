# FasterViT-5: the FasterViT-4 recipe (LAMB, weight decay 0.12, drop path 0.3,
# MESA 5.0; TRAINING.md).
_base_ = ['./fastervit-4_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='5', drop_path_rate=0.3), head=dict(in_channels=2560))
