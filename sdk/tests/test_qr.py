"""QR codes of otpauth URIs (extra ``qr``): every rendering decodes back to the URI with a real decoder.

zxing-cpp (from PyPI, in the test group) reads the PNG as an image, the SVG after rasterising its
module path, and the terminal text after turning its block characters back into pixels.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys

import msgspec
import pytest
import zxingcpp
from PIL import Image

from totpkit import MissingDependencyError
from totpkit.qr import qr_png, qr_svg, qr_terminal
from totpkit.types import TOTP

URI = "otpauth://totp/Acme%20(development):jane%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20(development)&algorithm=SHA1&digits=6&period=30"
PIXELS_PER_MODULE = 4
_LIGHT, _DARK = 255, 0


def decode_image(image: Image.Image) -> list[str]:
    """The texts of every QR code zxing-cpp finds in ``image``."""
    return [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def image_of(rows: list[list[bool]], scale: int = PIXELS_PER_MODULE) -> Image.Image:
    """A greyscale image of a module matrix (True = dark), ``scale`` pixels per module."""
    height, width = len(rows), max(len(row) for row in rows)
    image = Image.new("L", (width * scale, height * scale), _LIGHT)
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                image.paste(_DARK, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    return image


def rasterise_svg(svg: str) -> list[list[bool]]:
    """The module matrix of an SVG drawn as segno draws it: one stroked path of horizontal runs.

    ``M x y`` moves absolutely, ``m dx dy`` relatively, ``h n`` draws ``n`` modules on row ``floor(y)``
    (the stroke is one module wide, centred half a module down). Fails on any other command, so a
    change of drawing style is noticed rather than misread.
    """
    size = re.search(r'<path d="M0 0h(\d+)v\1h-\1z"|<path fill="#fff" d="M0 0h(\d+)v', svg)
    assert size, svg[:200]
    modules = int(size.group(1) or size.group(2))
    paths = re.findall(r'<path[^>]*stroke="#000"[^>]*d="([^"]+)"', svg)
    assert len(paths) == 1, svg[:300]
    rows = [[False] * modules for _ in range(modules)]
    x = y = 0.0
    for command, args in re.findall(r"([MmHh])([-\d. ]+)", paths[0]):
        numbers = [float(n) for n in args.split()]
        if command in "Mm":
            dx, dy = numbers
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
        else:
            (length,) = numbers
            end = (x + length) if command == "h" else length
            for column in range(int(x), int(end)):
                rows[int(y)][column] = True
            x = end
    return rows


def parse_terminal(text: str) -> list[list[bool]]:
    """The module matrix of compact terminal output: each character is two rows, a block is light."""
    halves = {"█": (False, False), " ": (True, True), "▀": (False, True), "▄": (True, False)}
    rows: list[list[bool]] = []
    for line in text.splitlines():
        assert set(line) <= set(halves), repr(line)
        rows.append([halves[c][0] for c in line])
        rows.append([halves[c][1] for c in line])
    return rows


class TestRenderings:
    def test_png_decodes_to_the_uri(self) -> None:
        image = Image.open(io.BytesIO(qr_png(URI)))
        assert image.format == "PNG"
        assert decode_image(image) == [URI]

    def test_png_scale_and_border(self) -> None:
        small = Image.open(io.BytesIO(qr_png(URI, scale=2, border=4)))
        large = Image.open(io.BytesIO(qr_png(URI, scale=6, border=4)))
        assert large.size[0] == small.size[0] * 3
        assert decode_image(large) == [URI]

    def test_svg_decodes_to_the_uri(self) -> None:
        svg = qr_svg(URI, title="Scan me")
        assert svg.startswith("<svg")
        assert svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg  # ready to put inline in a page
        assert 'xmlns="http://www.w3.org/2000/svg"' in svg  # and valid as an image file
        assert "<title>Scan me</title>" in svg
        assert decode_image(image_of(rasterise_svg(svg))) == [URI]

    def test_svg_has_light_background_and_size(self) -> None:
        svg = qr_svg(URI, scale=5, border=4)
        width = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
        assert width % 5 == 0
        assert width // 5 == len(rasterise_svg(svg))

    def test_terminal_decodes_to_the_uri(self) -> None:
        text = qr_terminal(URI)
        assert text.endswith("\n")
        assert "\x1b" not in text  # block characters only, no colour escapes
        assert decode_image(image_of(parse_terminal(text))) == [URI]

    def test_terminal_border(self) -> None:
        narrow, wide = qr_terminal(URI, border=1), qr_terminal(URI, border=4)
        assert len(wide.splitlines()[0]) == len(narrow.splitlines()[0]) + 6
        assert decode_image(image_of(parse_terminal(wide))) == [URI]

    @pytest.mark.parametrize("render", [qr_svg, qr_png, qr_terminal])
    def test_empty_uri_is_refused(self, render: object) -> None:
        with pytest.raises(ValueError, match="non-empty"):
            render("")  # type: ignore[operator]


def _totp(uri: str | None) -> TOTP:
    document = {
        "object": "totp",
        "id": "totp_1",
        "secret": None if uri is None else "JBSWY3DPEHPK3PXP",
        "uri": uri,
        "verified": False,
        "created_at": 1,
        "updated_at": 1,
    }
    return msgspec.json.decode(msgspec.json.encode(document), type=TOTP)


class TestTOTPMethods:
    def test_qr_svg_of_the_create_answer(self) -> None:
        svg = _totp(URI).qr_svg()
        assert "<title>Scan with your authenticator app</title>" in svg
        assert decode_image(image_of(rasterise_svg(svg))) == [URI]

    def test_qr_terminal_of_the_create_answer(self) -> None:
        assert decode_image(image_of(parse_terminal(_totp(URI).qr_terminal()))) == [URI]

    @pytest.mark.parametrize("method", ["qr_svg", "qr_terminal"])
    def test_later_answers_have_no_uri(self, method: str) -> None:
        with pytest.raises(ValueError, match="only the answer to create_totp"):
            getattr(_totp(None), method)()

    def test_methods_are_not_wire_fields(self) -> None:
        encoded = msgspec.json.decode(msgspec.json.encode(_totp(URI)))
        assert set(encoded) == {"object", "id", "secret", "uri", "verified", "backup_codes", "created_at", "updated_at"}


class TestWithoutTheExtra:
    def test_missing_segno_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in [name for name in sys.modules if name.split(".")[0] == "segno"]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "segno", None)
        with pytest.raises(MissingDependencyError, match=r"totpkit\[qr\]") as caught:
            _totp(URI).qr_svg()
        assert isinstance(caught.value, ImportError)
        assert (caught.value.package, caught.value.extra) == ("segno", "qr")
        with pytest.raises(MissingDependencyError, match=r"totpkit\[qr\]"):
            qr_terminal(URI)

    def test_importing_totpkit_does_not_import_segno(self) -> None:
        code = (
            "import sys, totpkit, totpkit.qr, totpkit.types;"
            "sys.exit(any(m.split('.')[0] == 'segno' for m in sys.modules))"
        )
        assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0
