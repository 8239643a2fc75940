# MogaNet image classifier as the official code builds it: backbone, global
# average pooling, linear head (trunc-normal init), label smoothing 0.1 and
# timm-style Mixup/CutMix switching (one of the two per batch).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='MogaNet', arch='tiny', drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=256,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
    ),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]),
)
