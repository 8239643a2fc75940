"""The official implementations' names (issue 27 item 5): in
mogazoo.get_model, and in timm.create_model where timm is installed."""
import pytest
import torch

import mogazoo
from mogazoo.apis.aliases import OFFICIAL_NAMES

#: one small arch per family: official name, mogazoo name, input size
CASES = [('moganet_xtiny', 'moganet-xtiny_8xb128_in1k', 64),
         ('faster_vit_0_224', 'fastervit-0_32xb128_in1k', 224),
         ('dgmn2_tiny', 'dgmn2-tiny_8xb128_in1k', 64)]


def logits(model, size):
    torch.manual_seed(0)
    with torch.no_grad():
        return model.eval()(torch.randn(1, 3, size, size))


def test_every_alias_names_an_indexed_model():
    index = mogazoo.list_models()
    assert set(OFFICIAL_NAMES.values()) <= set(index)
    assert len(set(OFFICIAL_NAMES.values())) == len(OFFICIAL_NAMES)


@pytest.mark.parametrize('official,name,size', CASES)
def test_get_model_takes_the_official_name(official, name, size, tmp_path):
    ours = mogazoo.get_model(name)
    path = tmp_path / 'w.pth'
    torch.save({'state_dict': ours.state_dict()}, path)
    alias = mogazoo.get_model(official, pretrained=str(path))
    assert type(alias.backbone) is type(ours.backbone)
    assert torch.equal(logits(alias, size), logits(ours, size))


@pytest.mark.parametrize('official,name,size', CASES)
def test_timm_create_model_builds_mogazoos_model(official, name, size,
                                                 tmp_path):
    timm = pytest.importorskip('timm')
    assert timm.is_model(official)
    ours = mogazoo.get_model(name)
    path = tmp_path / 'w.pth'
    torch.save({'state_dict': ours.state_dict()}, path)
    model = timm.create_model(official, pretrained=str(path))
    out = logits(model, size)
    assert out.shape == (1, 1000)  # model(x) is the logits, as in timm
    assert torch.equal(out, logits(ours, size))
    small = timm.create_model(official, num_classes=5)
    assert logits(small, size).shape == (1, 5)


def test_timm_alias_refuses_unknown_arguments():
    timm = pytest.importorskip('timm')
    with pytest.raises(TypeError, match='in_chans'):
        timm.create_model('moganet_xtiny', in_chans=1)
