# MogaNet-S: official drop path.
_base_ = './moganet_cls.py'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    head=dict(in_channels=512),
)
