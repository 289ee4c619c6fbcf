"""Every error melodia raises on purpose derives from :class:`MelodiaError`.

The command line prints ``str(error)`` as one line and exits non-zero; a library
user can catch the one base class.
"""

from __future__ import annotations


class MelodiaError(Exception):
    """Base class of melodia's own errors."""


class ScoreError(MelodiaError):
    """A `Score` breaks one of its invariants (see `Score.validate`)."""


class ReadError(MelodiaError):
    """A file could not be read as music: wrong format, truncated, absurd sizes."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class WriteError(MelodiaError):
    """A file could not be written."""


class TokenizerError(MelodiaError):
    """A bad tokenizer setting, a bad vocabulary file or an undecodable token sequence."""


class StyleError(MelodiaError):
    """A bad style template (instrumentation, rhythm or combined preset) or style setting."""


class MelodiaWarning(UserWarning):
    """Something odd was found and mended (a note never switched off, say).

    Batch jobs record these with `warnings.catch_warnings(record=True)` and list
    them in their reports.
    """
