"""``totpkit qr``: an otpauth URI as a QR code on the terminal or in an SVG/PNG file (extra ``qr``)."""

from __future__ import annotations

import io
import stat
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from totpkit.qr import qr_svg, qr_terminal
from totpkit_server.cli import main

URI = "otpauth://totp/totpkit%20(development):jane%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=totpkit%20(development)"


def decoded(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_prints_the_terminal_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    """The default output is the SDK's terminal rendering (decoded back to the URI in sdk/tests/test_qr.py)."""
    assert main(["qr", URI]) == 0
    assert capsys.readouterr().out == qr_terminal(URI)


def test_reads_the_uri_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``-`` reads the first line of stdin, so the secret stays out of the shell history."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(URI + "\nignored\n"))
    assert main(["qr", "-"]) == 0
    assert capsys.readouterr().out == qr_terminal(URI)


def test_png_file_decodes_to_the_uri(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "enrol.png"
    assert main(["qr", URI, "--png", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    assert decoded(target.read_bytes()) == [URI]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the image holds the secret


def test_svg_file(tmp_path: Path) -> None:
    target = tmp_path / "enrol.svg"
    assert main(["qr", URI, "--svg", str(target)]) == 0
    assert target.read_text("utf-8") == qr_svg(URI)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "enrol.png"
    target.write_bytes(b"keep me")
    assert main(["qr", URI, "--png", str(target)]) == 2
    assert "cannot create" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize("text", ["https://example.com", "", "JBSWY3DPEHPK3PXP"])
def test_refuses_what_is_not_an_otpauth_uri(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", text]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not an otpauth URI" in captured.err


def test_without_segno_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "segno"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "segno", None)
    target = tmp_path / "enrol.png"
    assert main(["qr", URI, "--png", str(target)]) == 2
    assert "pip install 'totpkit[qr]'" in capsys.readouterr().err
    assert not target.exists()
