"""The one base class of every error a user, a file or the environment can cause.

The CLI prints such an error's message and exits 2; the web app shows it in the page. Anything
that is not an `AssistantError` is a bug and is logged with its traceback (never shown to users).
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error whose message is written for the person at the keyboard."""


class InputRejected(AssistantError, ValueError):
    """External text or data that cannot be taken (too long, invalid characters, wrong type)."""
