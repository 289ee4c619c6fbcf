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
    """Read any supported file (MIDI, ABC, MusicXML, Humdrum) by its suffix. `FILE#N` reads the
    N-th piece (from 1) of a file that holds several, as an ABC file of many tunes may; a
    plain `FILE` of several gives the first, with a warning.

    Raises:
        ReadError: unknown suffix, or a file that cannot be read as that format, or holds no piece N.
    """
    path, number = split_piece_number(path)
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES and number in (None, 1):
        from melodia.io.midi import read_midi

        return read_midi(path)
    if suffix in MUSIC21_SUFFIXES:
        return _read_piece(path, number)
    if suffix in MIDI_SUFFIXES:
        raise ReadError(f"{path}#{number}", "a MIDI file holds one piece: #1, or no number")
    raise ReadError(str(path), f"unknown file type {suffix or '(no suffix)'!r}; "
                               f"melodia reads {', '.join(SUFFIXES)}")


def split_piece_number(path: str | os.PathLike[str]) -> tuple[str | os.PathLike[str], int | None]:
    """'tunes.abc#3' -> ('tunes.abc', 3); a path without '#N' (or a file so named) is left whole."""
    text = str(path)
    name, mark, number = text.rpartition("#")
    if not mark or not number.isdigit() or Path(text).exists():
        return path, None
    return name, int(number)


def _read_piece(path: str | os.PathLike[str], number: int | None) -> Score:
    from melodia.io.music21 import NoSuchPiece, read_music21

    if number is None:
        return read_music21(path)
    if number < 1:
        raise ReadError(f"{path}#{number}", "pieces are numbered from #1")
    try:
        return read_music21(path, number - 1)
    except NoSuchPiece as error:
        held = f"#1 to #{error.count}" if error.count > 1 else "#1 only"
        raise ReadError(f"{path}#{number}", f"no such piece; the file holds {error.count} ({held})") from None


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


def write_notation(scores: list[Score], paths: list[Path], *, overwrite: bool = True) -> list[Path]:
    """Write each score as MusicXML to its path, atomically, the notation (slow: music21 spells it) made on every
    core of the machine when there are several scores; the files are the same on any number of cores."""
    from melodia.io.atomic import atomic_write_bytes

    return [atomic_write_bytes(path, notation, overwrite=overwrite)
            for path, notation in zip(paths, musicxml_all(scores), strict=True)]


def musicxml_all(scores: list[Score]) -> list[bytes]:
    """The MusicXML of each score: on Linux with more than one core, this process makes every n-th and forked
    copies of it (which import nothing again) the others."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from melodia.io.music21 import musicxml_bytes

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    shares = min(cores, len(scores) // 2)
    if shares < 2 or not sys.platform.startswith("linux"):
        return [musicxml_bytes(score) for score in scores]
    with ProcessPoolExecutor(shares - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        others = {index: pool.submit(musicxml_bytes, score) for index, score in enumerate(scores) if index % shares}
        mine = {index: musicxml_bytes(score) for index, score in enumerate(scores) if not index % shares}
        return [mine[index] if index in mine else others[index].result() for index in range(len(scores))]


def inspect(path: str | os.PathLike[str]) -> str:
    """What `melodia inspect` prints of a music file: its tracks, notes, tempo, meter, key, length and form."""
    return read_score(path).summary()
