# Mask R-CNN 1x, MogaNet-large backbone.
_base_ = ['./mask-rcnn_moganet-xtiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-large_in1k.pth')),
    neck=dict(in_channels=[64, 160, 320, 640]),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
