# SETR-MLA, 40k iterations on Cityscapes 769x769, DGMN2-large backbone
# (published mIoU / ms+flip: 81.55 / 81.98).
_base_ = ['./setr-mla_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pretrained/dgmn2-large_in1k.pth')))
