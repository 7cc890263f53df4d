"""lossdoctor: reads training curves like an expert, says what the training is doing and why,
prescribes the fix, and ships the treatments for PyTorch."""

from lossdoctor.errors import LossdoctorError, ReadError, ReadWarning
from lossdoctor.read import read
from lossdoctor.run import Run, Series

__version__ = "0.1.0"

__all__ = ["LossdoctorError", "ReadError", "ReadWarning", "Run", "Series", "__version__", "read"]
