"""Where verkstad keeps its files (apart from verkstad.config, which loads pydantic)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "verkstad"


def config_dir() -> Path:
    return Path(os.environ.get("VERKSTAD_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(os.environ.get("VERKSTAD_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


def config_file() -> Path:
    return Path(os.environ.get("VERKSTAD_CONFIG") or config_dir() / "config.toml")
