# Deformable DETR, 50 epochs on COCO, DGMN2-small backbone (published box AP 47.3).
_base_ = ['./deformable-detr_dgmn2-tiny_16xb2-50e_coco.py']
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-small_in1k.pth')))
