# UperNet 160k on ADE20K, FasterViT-3 backbone.
_base_ = ['./upernet_fastervit-0_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='3',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-3_in1k.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512),
)
