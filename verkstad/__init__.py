"""verkstad: the counter app of a Nordic car workshop."""

__version__ = "0.1.0"
