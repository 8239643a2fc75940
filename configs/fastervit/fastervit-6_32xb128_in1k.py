# FasterViT-6: the FasterViT-4 recipe with drop path 0.5 (TRAINING.md).
_base_ = ['./fastervit-4_32xb128_in1k.py']
model = dict(
    backbone=dict(arch='6', drop_path_rate=0.5), head=dict(in_channels=2560))
