# UperNet 160k on ADE20K, MogaNet-xlarge backbone.
_base_ = ['./upernet_moganet-xtiny_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(
        arch='xlarge',
        drop_path_rate=0.4,
        init_cfg=dict(
            checkpoint='work_dirs/pretrained/moganet-xlarge_in1k.pth')),
    decode_head=dict(in_channels=[96, 192, 480, 960]),
    auxiliary_head=dict(in_channels=480),
)
