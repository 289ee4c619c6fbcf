"""Readers and writers: the only modules that import mido, pretty_midi or music21."""

from __future__ import annotations

import os
from pathlib import Path

from melodia.errors import ReadError, WriteError
from melodia.score import Score

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar", ".rmi")
MUSIC21_SUFFIXES = (".abc", ".xml", ".musicxml", ".mxl", ".krn")
SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES


def music_files(path: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """The file itself, or every file with a music suffix in a folder (and, when `recursive`,
    in the folders under it), sorted."""
    path = Path(path)
    if path.is_dir():
        found = path.rglob("*") if recursive else path.glob("*")
        return sorted(p for p in found if p.suffix.lower() in SUFFIXES and p.is_file())
    return [path]


def seed_file(seed: str, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """The music file a seed names (relative to `folder`), or None when the seed is notes.

    A seed that is one word ending in a music suffix names a file, even when there is none.

    Raises:
        ReadError: the seed names a music file that does not exist.
    """
    path = Path(folder or "") / seed
    if path.suffix and path.is_file():
        return path
    if len(seed.split()) == 1 and path.suffix.lower() in SUFFIXES:
        raise ReadError(str(path), "no such file (a seed is an existing music file, or notes such as "
                                   '"G4 A4 B4 key=G")')
    return None


def read_score(path: str | os.PathLike[str]) -> Score:
    """Read any supported file (MIDI, ABC, MusicXML, Humdrum) by its suffix.

    Raises:
        ReadError: unknown suffix, or a file that cannot be read as that format.
    """
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from melodia.io.midi import read_midi

        return read_midi(path)
    if suffix in MUSIC21_SUFFIXES:
        from melodia.io.music21 import read_music21

        return read_music21(path)
    raise ReadError(str(path), f"unknown file type {suffix or '(no suffix)'!r}; "
                               f"melodia reads {', '.join(SUFFIXES)}")


def write_score(score: Score, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write `score` as MIDI or MusicXML, chosen by the suffix, atomically.

    Raises:
        WriteError: a suffix melodia cannot write, or a file that cannot be written.
    """
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from melodia.io.midi import write_midi

        return write_midi(score, path, overwrite=overwrite)
    if suffix in (".xml", ".musicxml"):
        from melodia.io.atomic import atomic_write_bytes
        from melodia.io.music21 import musicxml_bytes

        return atomic_write_bytes(path, musicxml_bytes(score), overwrite=overwrite)
    raise WriteError(f"{path}: melodia writes MIDI ({', '.join(MIDI_SUFFIXES)}) and MusicXML (.musicxml, .xml), "
                     f"not {suffix or '(no suffix)'!r}")
