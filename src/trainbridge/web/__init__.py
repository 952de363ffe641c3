"""The HR console and webhook receiver (``trainbridge serve``; needs the ``serve`` extra)."""

from trainbridge.web.app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
