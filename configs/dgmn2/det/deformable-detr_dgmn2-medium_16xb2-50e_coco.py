# Deformable DETR, 50 epochs on COCO, DGMN2-medium backbone (published box AP 48.4).
_base_ = ['./deformable-detr_dgmn2-tiny_16xb2-50e_coco.py']
model = dict(
    backbone=dict(
        arch='medium',
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/dgmn2-medium_in1k.pth')))
