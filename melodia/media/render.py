"""A score written as what a person hears or reads, chosen by the file's suffix: audio (.wav), a piano roll
(.png), notation (.musicxml, .xml) or MIDI (.mid, .midi). `melodia render` calls it."""

from __future__ import annotations

import os
from pathlib import Path

from melodia.errors import MelodiaError
from melodia.io import write_score
from melodia.io.atomic import atomic_write_bytes, refuse_overwrite
from melodia.score import Score

SUFFIXES = (".wav", ".png", ".musicxml", ".xml", ".mid", ".midi")


def check_output(path: str | os.PathLike[str], force: bool = False) -> str:
    """The suffix of `path`, once it is one `render` writes and (unless `force`) names no file already there."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise MelodiaError(f"{path}: expected a .wav, .png, .musicxml, .xml or .mid file")
    if not force:
        refuse_overwrite(path)
    return suffix


def render(score: Score, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write `score` to `path` as its suffix asks (nothing overwritten unless `force`); the path written."""
    suffix = check_output(path, force)
    if suffix == ".wav":
        from melodia.media.synth import write_wav

        return write_wav(score, path)
    if suffix == ".png":
        from melodia.media.display import pianoroll_png

        return atomic_write_bytes(path, pianoroll_png(score))
    return write_score(score, path)
