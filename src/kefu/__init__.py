"""kefu: customer-service IM for online shops."""

__version__ = "0.1.0"
