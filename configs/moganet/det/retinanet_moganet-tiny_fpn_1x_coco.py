# RetinaNet 1x, MogaNet-tiny backbone.
_base_ = ['./retinanet_moganet-xtiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='tiny',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-tiny_in1k.pth')),
    neck=dict(in_channels=[32, 64, 128, 256]),
)
