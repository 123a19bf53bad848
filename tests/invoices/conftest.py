"""PDF tests read the text back with poppler's pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ledger.fakes import FakeProvider


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def pdf_text(tmp_path: Path):
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed: apt-get install -y poppler-utils")

    def extract(data: bytes) -> str:
        path = tmp_path / "doc.pdf"
        path.write_bytes(data)
        out = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True
        ).stdout.decode("utf-8")
        return " ".join(out.replace("\u00a0", " ").replace("\u202f", " ").split())

    return extract
