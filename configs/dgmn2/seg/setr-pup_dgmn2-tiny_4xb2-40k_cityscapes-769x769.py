# SETR-PUP, 40k iterations on Cityscapes 769x769, DGMN2-tiny backbone
# (published mIoU / ms+flip: 78.25 / 79.26).
# Official: fudan-zvg/DGMN2 segmentation/configs/setr_pup_dgmn2_*_4x2_769x769_40k_cityscapes.py:
# stride-8 last stage as SETR-Naive, then three 3x3 conv-BN-ReLU layers of 256 channels,
# each followed by 2x bilinear upsampling, and the classifier (mmseg's SETRUPHead, with its
# input LayerNorm).
_base_ = ['./setr-naive_dgmn2-tiny_4xb2-40k_cityscapes-769x769.py']
model = dict(
    decode_head=dict(channels=256, num_convs=3, up_scale=2, kernel_size=3))
