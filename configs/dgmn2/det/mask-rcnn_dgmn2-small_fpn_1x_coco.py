# Mask R-CNN 1x on COCO, DGMN2-small backbone (published box / mask AP: 43.4 / 39.7).
_base_ = ['./mask-rcnn_dgmn2-tiny_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-small_in1k.pth')))
