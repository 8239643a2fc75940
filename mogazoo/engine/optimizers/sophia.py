"""SophiaG: Sophia with the Gauss-Newton-Bartlett Hessian estimator."""
import torch
from mmengine.registry import OPTIMIZERS
from torch.optim import Optimizer


@OPTIMIZERS.register_module()
class SophiaG(Optimizer):
    """`Sophia <https://arxiv.org/abs/2305.14342>`_ (Liu et al., 2023) with
    the Gauss-Newton-Bartlett (GNB) estimator of the diagonal Hessian,
    as the authors' ``SophiaG``.

    Every step, for each parameter ``p`` with gradient ``g``::

        p *= 1 - lr * weight_decay                  # decoupled decay
        m = beta1 * m + (1 - beta1) * g
        p -= lr * clip(m / max(rho * bs * h, eps), -1, 1)

    ``h`` is an exponential moving average, refreshed only by
    :meth:`update_hessian`, of ``g_hat * g_hat`` where ``g_hat`` is the
    gradient of the mean loss over a batch whose labels are sampled from the
    model's own softmax; ``bs * g_hat * g_hat`` is the GNB estimate for a
    batch of ``bs`` samples (the authors' code puts the factor ``bs`` into the
    step, as here). Until the first refresh ``h`` is 0 and every step is a
    sign step of size ``lr``.

    The refresh is not part of :meth:`step`: it needs an extra forward and
    backward pass on sampled labels. In mmengine training,
    :class:`mogazoo.engine.SophiaHessianHook` does it every ``k`` iterations
    (the authors use ``k = 10``); in a plain loop, after ``optimizer.step()``
    and ``zero_grad()``::

        logits = model(x)
        y = torch.distributions.Categorical(logits=logits).sample()
        F.cross_entropy(logits, y).backward()
        optimizer.update_hessian()
        optimizer.zero_grad()

    Args:
        params (Iterable): Parameters or parameter groups.
        lr (float): Learning rate: the largest change of a weight in a step.
            Defaults to 2e-4.
        betas (tuple[float, float]): EMA coefficients of the gradient
            (``beta1``) and of the Hessian estimate (``beta2``).
            Defaults to ``(0.965, 0.99)``.
        rho (float): Clipping scale ``rho`` (gamma in the paper).
            Defaults to 0.01.
        weight_decay (float): Decoupled weight decay. Defaults to 0.1.
        bs (int): Samples per batch of the Hessian estimate, the GNB factor
            (the authors' code counts tokens: 5120). Set it to the batch
            size. Defaults to 5120.
        eps (float): Floor of the denominator. Defaults to 1e-15.
        maximize (bool): Maximize the objective. Defaults to False.
    """

    def __init__(self,
                 params,
                 lr=2e-4,
                 betas=(0.965, 0.99),
                 rho=0.01,
                 weight_decay=1e-1,
                 bs=5120,
                 eps=1e-15,
                 maximize=False):
        if not lr >= 0:
            raise ValueError(f'Invalid learning rate: {lr}')
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f'Invalid betas (each in [0, 1)): {betas}')
        if not rho >= 0:
            raise ValueError(f'Invalid rho: {rho}')
        if not weight_decay >= 0:
            raise ValueError(f'Invalid weight_decay: {weight_decay}')
        if not bs > 0:
            raise ValueError(f'Invalid bs: {bs}')
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            rho=rho,
            weight_decay=weight_decay,
            bs=bs,
            eps=eps,
            maximize=maximize)
        super().__init__(params, defaults)

    def _state(self, p):
        state = self.state[p]
        if not state:
            state['step'] = 0
            state['exp_avg'] = torch.zeros_like(
                p, memory_format=torch.preserve_format)
            state['hessian'] = torch.zeros_like(
                p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def update_hessian(self):
        """Fold the squared current gradients (those of a loss on labels
        sampled from the model) into the Hessian EMA:
        ``h = beta2 * h + (1 - beta2) * g * g``."""
        for group in self.param_groups:
            beta2 = group['betas'][1]
            for p in group['params']:
                if p.grad is None:
                    continue
                self._state(p)['hessian'].mul_(beta2).addcmul_(
                    p.grad, p.grad, value=1 - beta2)

    @torch.no_grad()
    def step(self, closure=None, bs=None):
        """One Sophia step.

        Args:
            closure (Callable, optional): Re-evaluates the model and returns
                the loss. Defaults to None.
            bs (int, optional): Overrides the group's ``bs`` for this step.

        Returns:
            The loss of ``closure``, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta1 = group['lr'], group['betas'][0]
            scale = group['rho'] * (bs or group['bs'])
            for p in group['params']:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError('SophiaG does not support sparse '
                                       'gradients')
                grad = -p.grad if group['maximize'] else p.grad
                state = self._state(p)
                state['step'] += 1
                p.mul_(1 - lr * group['weight_decay'])
                exp_avg = state['exp_avg']
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                denom = (state['hessian'] * scale).clamp_(min=group['eps'])
                p.add_((exp_avg / denom).clamp_(-1, 1), alpha=-lr)
        return loss
