# The digits demo trained with SophiaG (Liu et al. 2023) instead of AdamW:
# the suggested betas (0.965, 0.99), rho 0.01 and weight decay 0.1, bs = the
# batch size, and the Hessian estimate refreshed every 10 iterations by
# SophiaHessianHook.
_base_ = '../moganet/moganet-xtiny_1xb64_digits.py'
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='SophiaG',
        lr=2e-4,
        betas=(0.965, 0.99),
        rho=0.01,
        weight_decay=0.1,
        bs=64))
custom_hooks = [
    dict(type='ThroughputHook'),
    dict(type='SophiaHessianHook', interval=10),
]
