"""Looking at and listening to a `Score` in a notebook: an HTML summary, a piano roll, audio
and notation. Every helper works without system packages: matplotlib, IPython and verovio
come from pip (`pip install melodia[notebook]`); `pianoroll_png` needs nothing but numpy.
"""

from __future__ import annotations

import html
import struct
import zlib
from typing import Any

import numpy as np

from melodia.errors import MelodiaError
from melodia.score import TICKS_PER_QUARTER, Score
from melodia.theory.pitch import note_name

# Track colors (RGB), cycled: distinct on white, drums in grey.
COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (188, 189, 34), (23, 190, 207))
DRUM_COLOR = (110, 110, 110)
MAX_WIDTH = 20_000  # pixels of a piano-roll picture
MAX_BAR_LINES = 400  # a longer piece's matplotlib piano roll draws none


def _needs(module: str, what: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise MelodiaError(f"{what} needs the Python package {module.split('.')[0]!r}: "
                           "pip install 'melodia[notebook]'") from None


def summary_html(score: Score) -> str:
    """Title, length, tempo, meter and key, then one table row per track."""
    first_key = score.key_signatures[0].name if score.key_signatures else "not given"
    head = (f"<b>{html.escape(score.title or 'Untitled')}</b>: {len(score.tracks)} tracks, {score.note_count} notes, "
            f"{score.bar_count()} bars, {score.duration_seconds():.1f} s; "
            f"{score.initial_bpm():g} BPM, {score.initial_time_signature()}, key {first_key}")
    rows = []
    for track in score.tracks:
        pitches = [n.pitch for n in track.notes]
        span = f"{note_name(min(pitches))}-{note_name(max(pitches))}" if pitches and not track.is_drum else ""
        rows.append(f"<tr><td>{html.escape(track.name)}</td><td>{html.escape(track.instrument_name)}</td>"
                    f"<td>{len(track.notes)}</td><td>{span}</td></tr>")
    return (f"<div>{head}<table><tr><th>track</th><th>instrument</th><th>notes</th><th>range</th></tr>"
            f"{''.join(rows)}</table></div>")


def show_pianoroll(score: Score, ax: Any = None, figsize: tuple[float, float] = (10, 4)) -> Any:
    """A matplotlib piano roll: one color per track, bar lines (up to `MAX_BAR_LINES` bars),
    note names on the pitch axis. Returns the Figure (a notebook shows it)."""
    pyplot = _needs("matplotlib.pyplot", "show_pianoroll")
    figure = None
    if ax is None:
        figure, ax = pyplot.subplots(figsize=figsize)
        pyplot.close(figure)  # shown once, as the returned value, not twice
    pitches = [n.pitch for n in score.notes] or [60]
    for index, track in enumerate(score.tracks):
        color = np.array(DRUM_COLOR if track.is_drum else COLORS[index % len(COLORS)]) / 255
        bars = [(n.onset_tick / TICKS_PER_QUARTER, n.duration_tick / TICKS_PER_QUARTER) for n in track.notes]
        for pitch in sorted({n.pitch for n in track.notes}):
            ax.broken_barh([b for b, n in zip(bars, track.notes, strict=True) if n.pitch == pitch],
                           (pitch - 0.4, 0.8), facecolors=color)
        ax.plot([], [], color=color, linewidth=6, label=f"{track.name} ({track.instrument_name})")
    starts = score.bar_starts(max(score.end_tick - 1, 0))
    for start in starts if len(starts) <= MAX_BAR_LINES else []:
        ax.axvline(start / TICKS_PER_QUARTER, color="0.8", linewidth=0.8, zorder=0)
    low, high = min(pitches) - 2, max(pitches) + 2
    ticks = [p for p in range(low, high + 1) if p % 12 == 0] or [low]
    ax.set_yticks(ticks, [note_name(p) for p in ticks])
    ax.set_ylim(low, high)
    ax.set_xlim(0, max(score.end_tick, 1) / TICKS_PER_QUARTER)
    ax.set_xlabel("quarter notes")
    if score.tracks:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        ax.figure.tight_layout()
    if score.title:
        ax.set_title(score.title)
    return figure if figure is not None else ax.figure


def listen(score: Score, sample_rate: int = 22050) -> Any:
    """An `IPython.display.Audio` player: FluidSynth with a GM SoundFont when installed, else
    melodia's built-in synthesizer."""
    display = _needs("IPython.display", "listen")
    from melodia.media.synth import sound

    samples, rate = sound(score, sample_rate)
    return display.Audio(data=samples, rate=rate, normalize=False)


def score_svg(score: Score, page: int = 1, width: int = 2100) -> str:
    """Notation as SVG: music21 writes MusicXML, verovio engraves it."""
    verovio = _needs("verovio", "show_score")
    from melodia.io.music21 import musicxml_bytes

    toolkit = verovio.toolkit()
    toolkit.setOptions({"pageWidth": width, "adjustPageHeight": True, "scale": 40, "footer": "none"})
    if not toolkit.loadData(musicxml_bytes(_notatable(score)).decode("utf-8")):
        raise MelodiaError("show_score: verovio could not read the MusicXML music21 wrote")
    return toolkit.renderToSVG(min(page, toolkit.getPageCount()))


def show_score(score: Score, page: int = 1) -> Any:
    """Notation inline in a notebook (the first page unless `page` says otherwise)."""
    display = _needs("IPython.display", "show_score")
    return display.SVG(score_svg(score, page))


def _notatable(score: Score) -> Score:
    """A copy on a grid of 1/12 quarter (sixteenths and triplets), which notation can spell."""
    from dataclasses import replace

    step = TICKS_PER_QUARTER // 12
    tracks = [replace(t, notes=[replace(n, onset_tick=round(n.onset_tick / step) * step,
                                        duration_tick=max(round(n.duration_tick / step), 1) * step)
                                for n in t.notes]) for t in score.tracks]
    return replace(score, tracks=tracks)


# A 3x5 pixel font for the piano roll's labels, drawn at twice that size: pitch names and bar numbers.
GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "#": "101111101111101", "-": "000000111000000",
}
GLYPH_SCALE = 2
GLYPH_WIDTH, GLYPH_HEIGHT = 3 * GLYPH_SCALE, 5 * GLYPH_SCALE
LEFT_MARGIN = 4 * (GLYPH_WIDTH + GLYPH_SCALE)  # pitch names such as C-1 or F#4
TOP_MARGIN = GLYPH_HEIGHT + 6  # bar numbers
MIN_PITCHES = 25  # a short phrase still gets two octaves of height
INK, BAR_LINE, OCTAVE_LINE, SEED_SHADE = (40, 40, 40), (190, 190, 190), (225, 225, 225), (236, 236, 244)


def pianoroll_png(score: Score, pixels_per_quarter: int = 32, pixels_per_pitch: int = 8,
                  seed_end_tick: int = 0) -> bytes:
    """A piano roll as PNG file contents, drawn with numpy alone: tracks in colors, bar lines
    numbered along the top, every C named on the left, and the seed (the notes before
    `seed_end_tick`) shaded. A long piece is squeezed to `MAX_WIDTH` pixels."""
    low, high = _pitch_span(score)
    scale = min(pixels_per_quarter / TICKS_PER_QUARTER, (MAX_WIDTH - LEFT_MARGIN) / max(score.end_tick, 1))
    width = LEFT_MARGIN + int(score.end_tick * scale) + 1
    image = np.full((TOP_MARGIN + (high - low + 1) * pixels_per_pitch, width, 3), 255, dtype=np.uint8)
    roll = image[TOP_MARGIN:, LEFT_MARGIN:]
    if seed_end_tick > 0:
        roll[:, :int(seed_end_tick * scale)] = SEED_SHADE
    for pitch in range(low, high + 1):
        if pitch % 12 == 0:  # every C: a faint line, and its name (at least two, as the span is two octaves)
            row = (high - pitch) * pixels_per_pitch
            roll[row + pixels_per_pitch - 1, :] = OCTAVE_LINE
            _draw_text(image, note_name(pitch), 2, TOP_MARGIN + row + (pixels_per_pitch - GLYPH_HEIGHT) // 2)
    _draw_bars(image, score, scale)
    for index, track in enumerate(score.tracks):
        color = DRUM_COLOR if track.is_drum else COLORS[index % len(COLORS)]
        for note in track.notes:
            x0 = int(note.onset_tick * scale)
            x1 = max(int(note.end_tick * scale) - 1, x0 + 1)
            y0 = (high - note.pitch) * pixels_per_pitch
            roll[y0:y0 + pixels_per_pitch - 1, x0:x1] = color
    return png_bytes(image)


def _pitch_span(score: Score) -> tuple[int, int]:
    """Lowest and highest pitch rows: the notes' range, two more each side, at least `MIN_PITCHES` rows."""
    pitches = [n.pitch for n in score.notes] or [60]
    low, high = min(pitches) - 2, max(pitches) + 2
    missing = max(MIN_PITCHES - (high - low + 1), 0)
    low, high = low - missing // 2, high + missing - missing // 2
    shift = max(0 - low, 0) - max(high - 127, 0)
    return low + shift, high + shift


def _draw_bars(image: np.ndarray, score: Score, scale: float) -> None:
    """Bar lines through the roll, and each bar's number above it where there is room."""
    label_end = -1
    for number, start in enumerate(score.bar_starts(max(score.end_tick - 1, 0)), start=1):
        x = LEFT_MARGIN + min(int(start * scale), image.shape[1] - LEFT_MARGIN - 1)
        image[TOP_MARGIN - 3:, x] = BAR_LINE
        if x + 2 > label_end:
            label_end = _draw_text(image, str(number), x + 2, 2) + GLYPH_WIDTH


def _draw_text(image: np.ndarray, text: str, x: int, y: int) -> int:
    """Draw `text` in `GLYPHS` with its top left corner at (x, y), clipped; returns where it ends."""
    for char in text:
        glyph = np.array([bit == "1" for bit in GLYPHS[char]]).reshape(5, 3)
        mask = np.kron(glyph, np.ones((GLYPH_SCALE, GLYPH_SCALE), dtype=bool))
        y0, x0 = max(y, 0), max(x, 0)
        region = image[y0:y + GLYPH_HEIGHT, x0:x + GLYPH_WIDTH]
        region[mask[y0 - y:y0 - y + region.shape[0], x0 - x:x0 - x + region.shape[1]]] = INK
        x += GLYPH_WIDTH + GLYPH_SCALE
    return x


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB uint8 array (height, width, 3) as PNG file contents."""
    height, width, _ = image.shape
    rows = b"".join(b"\x00" + image[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
