# MogaNet-XT: official drop path and mixup alpha 0.1.
_base_ = './moganet_cls.py'
model = dict(
    backbone=dict(arch='xtiny', drop_path_rate=0.05),
    head=dict(in_channels=192),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.1),
        dict(type='CutMix', alpha=1.0),
    ]),
)
