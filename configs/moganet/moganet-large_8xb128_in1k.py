# MogaNet-L: the MogaNet-S recipe with drop path 0.3.
_base_ = ['./moganet-small_8xb128_in1k.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3),
    head=dict(in_channels=640))
