"""voicescount: reproducible Citizen-Generated Data reports and handbook for the SDGs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("voicescount")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
