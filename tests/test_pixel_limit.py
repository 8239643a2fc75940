"""LoadImageFromFileSafe refuses an image over ``max_pixels`` from its
header, before decoding it (issue 28 item 3)."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mogazoo.datasets import (CorruptImageError, ImageTooLargeError,
                              LoadImageFromFileSafe)
from mogazoo.datasets.transforms import MAX_PIXELS, image_size


def png_header_only(path, width, height):
    """A PNG that declares ``width x height`` (8-bit RGB) and holds one
    tiny IDAT: its header is valid, its pixels are not there (decoding it
    would need width * height * 3 bytes)."""

    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I',
                            zlib.crc32(kind + data) & 0xffffffff))

    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                chunk(b'IDAT', zlib.compress(b'\x00' * 16)) +
                chunk(b'IEND', b''))


def test_header_size_without_decoding(tmp_path):
    path = tmp_path / 'huge.png'
    png_header_only(path, 60000, 60000)
    assert image_size(str(path)) == (60000, 60000)
    jpg = tmp_path / 'small.jpg'
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(jpg)
    assert image_size(str(jpg)) == (7, 5)
    text = tmp_path / 'text.jpg'
    text.write_text('not an image')
    assert image_size(str(text)) is None


def test_huge_image_is_refused_by_name(tmp_path):
    path = tmp_path / 'huge.png'
    png_header_only(path, 60000, 60000)
    load = LoadImageFromFileSafe()
    assert load.max_pixels == MAX_PIXELS == 2**30
    with pytest.raises(ImageTooLargeError) as info:
        load(dict(img_path=str(path)))
    message = str(info.value)
    assert str(path) in message and '60000 x 60000' in message
    assert 'max_pixels=1073741824' in message
    # a training pipeline skips it like a corrupt file
    assert LoadImageFromFileSafe(skip_corrupt=True)(
        dict(img_path=str(path))) is None
    # without the limit it goes to the decoder (which fails on this file,
    # after trying): another error, not the size
    with pytest.raises(CorruptImageError) as info:
        LoadImageFromFileSafe(max_pixels=None)(dict(img_path=str(path)))
    assert not isinstance(info.value, ImageTooLargeError)


def test_limit_is_configurable(tmp_path):
    path = tmp_path / 'img.png'
    Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(path)
    out = LoadImageFromFileSafe(max_pixels=72)(dict(img_path=str(path)))
    assert out['img'].shape == (8, 9, 3)
    with pytest.raises(ImageTooLargeError, match='72 pixels'):
        LoadImageFromFileSafe(max_pixels=71)(dict(img_path=str(path)))
