# MogaNet-B: the MogaNet-S recipe with drop path 0.2.
_base_ = ['./moganet-small_8xb128_in1k.py']
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.2), head=dict(in_channels=512))
