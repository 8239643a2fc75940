# Semantic FPN 80k on ADE20K, MogaNet-small backbone.
_base_ = ['./fpn_moganet-xtiny_8xb4-80k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-small_in1k.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]),
)
