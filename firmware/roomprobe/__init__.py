"""roomprobe: the meeting-room probe firmware."""

from importlib import metadata

try:
    __version__ = metadata.version("roomprobe")  # one place for the version: pyproject.toml
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
