"""jiayi (家医): a district's community health services platform."""

__version__ = "0.1.0"
