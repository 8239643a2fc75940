# UperNet 160k on ADE20K, FasterViT-2 backbone.
_base_ = ['./upernet_fastervit-0_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='2',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='work_dirs/pretrained/fastervit-2_in1k.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384),
)
