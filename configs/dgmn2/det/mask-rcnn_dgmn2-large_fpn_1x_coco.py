# Mask R-CNN 1x on COCO, DGMN2-large backbone (published box / mask AP: 46.2 / 41.6).
_base_ = ['./mask-rcnn_dgmn2-tiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-large_in1k.pth')))
