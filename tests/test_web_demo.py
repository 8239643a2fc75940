"""The web demo (demo/web_demo.py): its prediction functions, and the page
driven in a real headless Chromium through Selenium.

The browser test needs gradio, selenium, and Debian's ``chromium`` and
``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``);
tools/setup_env.sh installs them where it can (root with apt-get) and
.ci/run requires them (``MOGAZOO_REQUIRE_BROWSER=1``: a missing browser
fails the test). Elsewhere it skips and says which is missing."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

import mogazoo
from runner_utils import ROOT, load_tool

pytest.importorskip('gradio')
pytest.importorskip('pytorch_grad_cam')

CONFIG = 'configs/moganet/moganet-xtiny_1xb64_digits.py'
CHROMIUM = ('/usr/bin/chromium', '/usr/bin/chromium-browser')
CHROMEDRIVER = '/usr/bin/chromedriver'


def val_digits(root):
    """(image, label) of every validation digit, class by class."""
    return [(p, c) for c in range(10)
            for p in sorted(glob.glob(osp.join(root, 'val', str(c), '*.png')))]


def correctly_classified(model, root):
    """The first validation digit (of the classes 1..9, then 0) the model
    gets right, and its label."""
    digits = val_digits(root)
    for path, label in digits[10:] + digits[:10]:
        if mogazoo.inference_model(model, path, 1)[0]['label'] == label:
            return path, label
    pytest.fail('the digits model gets no validation digit right')


def test_classifier_function(digits_checkpoint, digits_subset):
    """What the page shows: Gradio's RGB array gives the same top-k as the
    file through the pipeline, and a 224x224 CAM overlay."""
    from mogazoo.apis.web_demo import PANEL, ClassifierDemo
    model = mogazoo.get_model(CONFIG, digits_checkpoint)
    path, label = correctly_classified(model, digits_subset)
    rgb = np.asarray(Image.open(path).convert('RGB'))
    scores, overlay, text = ClassifierDemo(model, topk=3)(rgb)
    preds = mogazoo.inference_model(model, path, 3)
    assert list(scores) == [str(p['label']) for p in preds]
    np.testing.assert_allclose(
        list(scores.values()), [p['score'] for p in preds], rtol=1e-5)
    assert text.startswith(f'Predicted class: {label} ')
    assert overlay.shape == (PANEL, PANEL, 3) and overlay.std() > 0
    # grey uploads come as H x W arrays
    assert ClassifierDemo(model, 3, None)(rgb[..., 0])[0] == scores
    with pytest.raises(ValueError, match='Upload an image'):
        ClassifierDemo(model)(None)


def test_downstream_pages():
    """A det / seg config: the page is built with the drawn prediction in
    place of the classes, and the function draws at the image's size."""
    import gradio as gr

    from mogazoo.apis import init_downstream_model
    from mogazoo.apis.web_demo import DownstreamDemo, build_web_demo
    det = 'configs/moganet/det/retinanet_moganet-xtiny_fpn_digit-scenes.py'
    seg = 'configs/moganet/seg/fpn_moganet-xtiny_digit-scenes.py'
    rgb = np.random.default_rng(0).integers(0, 255, (64, 48, 3), np.uint8)
    drawn, text = DownstreamDemo(init_downstream_model(seg))(rgb)
    assert drawn.shape == rgb.shape and text.startswith('Classes found: ')
    drawn, text = DownstreamDemo(init_downstream_model(det), 0.0)(rgb)
    assert drawn.shape == rgb.shape and (drawn != rgb).any()
    assert text.endswith('boxes with score >= 0.0')
    page = build_web_demo(det)
    assert isinstance(page, gr.Blocks)
    ids = {getattr(b, 'elem_id', None) for b in page.blocks.values()}
    assert {'drawn', 'input-image', 'summary'} <= ids
    assert not {'top-classes', 'cam'} & ids


def test_cli_errors(tmp_path, monkeypatch):
    tool = load_tool('demo/web_demo.py')
    monkeypatch.setattr(tool, 'DEMO_WORK_DIR', str(tmp_path))
    with pytest.raises(SystemExit, match='run make demo first'):
        tool.main([])
    with pytest.raises(SystemExit, match='--cam-method gradkam'):
        tool.main(['--cam-method', 'gradkam'])
    with pytest.raises(SystemExit, match='Example image not found'):
        tool.main([CONFIG, '--examples', str(tmp_path / 'none.png')])
    with pytest.raises(SystemExit, match='Config file not found: .*none.py'):
        tool.main([str(tmp_path / 'none.py')])
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    (tmp_path / 'epoch_10.pth').write_bytes(b'')
    assert tool.last_checkpoint(str(tmp_path)).endswith('epoch_10.pth')


def browser_missing():
    """Why the browser test cannot run here, or ''."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (pip install selenium)'
    if not any(osp.exists(p) for p in CHROMIUM):
        return ('no Chromium at /usr/bin/chromium (apt-get install chromium '
                'chromium-driver)')
    if not osp.exists(CHROMEDRIVER):
        return ('no ChromeDriver at /usr/bin/chromedriver (apt-get install '
                'chromium-driver)')
    return ''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_http(url, proc, timeout=180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            out = proc.stdout.read()
            pytest.fail(f'the web demo exited ({proc.returncode}):\n{out}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f'the web demo did not answer on {url} in {timeout} s')


@pytest.fixture
def chrome():
    reason = browser_missing()
    if reason and os.environ.get('MOGAZOO_REQUIRE_BROWSER') == '1':
        pytest.fail(f'browser test: {reason}, and MOGAZOO_REQUIRE_BROWSER=1 '
                    '(CI) requires it')
    if reason:
        pytest.skip(f'browser test: {reason}')
    from selenium import webdriver
    opts = webdriver.ChromeOptions()
    opts.binary_location = next(p for p in CHROMIUM if osp.exists(p))
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', '--window-size=1280,1000'):
        opts.add_argument(arg)
    driver = webdriver.Chrome(
        options=opts,
        service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def test_upload_in_a_real_browser(chrome, digits_checkpoint, digits_subset,
                                  tmp_path):
    """Start demo/web_demo.py, upload a digit in headless Chromium, press
    Predict: the page shows the digit's class and the CAM image."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    model = mogazoo.get_model(CONFIG, digits_checkpoint)
    image, label = correctly_classified(model, digits_subset)
    port = free_port()
    examples = [p for p, _ in val_digits(digits_subset)[::10]]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([
        sys.executable, 'demo/web_demo.py', CONFIG, digits_checkpoint,
        '--port',
        str(port), '--topk', '3', '--examples', *examples
    ],
                            cwd=ROOT,
                            env=env,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = f'http://127.0.0.1:{port}/'
        wait_for_http(url, proc)
        chrome.get(url)
        wait = WebDriverWait(chrome, 120)
        upload = wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '#input-image input[type=file]'))[0]
        upload.send_keys(osp.abspath(image))
        # the upload is in the page before Predict reads it, and the 8x8
        # digit fills the image box (the demo's CSS)
        shown = wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '#input-image img'))[0]
        assert chrome.execute_script(
            'return arguments[0].getBoundingClientRect().height', shown) > 100
        chrome.find_element(By.CSS_SELECTOR, '#run').click()

        def summary(d):
            boxes = d.find_elements(By.CSS_SELECTOR, '#summary textarea')
            value = boxes[0].get_attribute('value') if boxes else ''
            return value if value.startswith('Predicted class') else False

        text = wait.until(summary)
        chrome.save_screenshot(str(tmp_path / 'web_demo.png'))
        assert text.startswith(f'Predicted class: {label} '), text
        # the label component lists the top classes, best first
        shown = chrome.find_element(By.CSS_SELECTOR, '#top-classes').text
        assert shown.split()[2:4] == [str(label), str(label)], shown
        cams = chrome.find_elements(By.CSS_SELECTOR, '#cam img')
        assert cams, 'no CAM image in the page'
        width = chrome.execute_script('return arguments[0].naturalWidth',
                                      cams[0])
        assert width == 224
        assert (tmp_path / 'web_demo.png').stat().st_size > 0
        # examples are in the page, served from this machine
        assert len(
            chrome.find_elements(By.CSS_SELECTOR,
                                 '.gallery img, table img')) >= len(examples)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
