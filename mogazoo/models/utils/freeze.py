"""Stage freezing and BN eval mode shared by the backbones."""
from torch.nn.modules.batchnorm import _BatchNorm


class FreezeStagesMixin:
    """``frozen_stages`` and ``norm_eval`` for a staged backbone.

    The backbone sets ``self.frozen_stages`` and ``self.norm_eval`` and
    implements ``_stage_modules(i)``, the modules of stage ``i`` (its
    down-sampling layer, blocks and output norm); stages
    ``0..frozen_stages`` are kept in eval mode with frozen parameters, and
    with ``norm_eval`` every BatchNorm stays in eval mode while training.
    """

    def _stage_modules(self, i):
        raise NotImplementedError

    def _freeze_stages(self):
        for i in range(self.frozen_stages + 1):
            for m in self._stage_modules(i):
                m.eval()
                for param in m.parameters():
                    param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
