# SETR-PUP, 40k iterations on Cityscapes 769x769, DGMN2-large backbone
# (published mIoU / ms+flip: 81.58 / 82.27).
_base_ = ['./setr-pup_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-large_in1k.pth')))
