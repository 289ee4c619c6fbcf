"""Notebook helpers (melodia/media/display.py): HTML summary, piano rolls, the audio player, notation."""

from __future__ import annotations

import io

import numpy as np

from melodia.io import read_score
from melodia.media.display import (
    INK,
    LEFT_MARGIN,
    MIN_PITCHES,
    SEED_SHADE,
    TOP_MARGIN,
    pianoroll_png,
    score_svg,
    show_pianoroll,
    summary_html,
)
from melodia.resources import example_path
from melodia.score import Note, Score, Track


def test_summary_html_names_every_track() -> None:
    score = read_score(example_path())
    text = score._repr_html_()
    assert text == summary_html(score)
    assert all(f"<td>{t.name}</td>" in text for t in score.tracks) and "E4-E5" in text and "F# minor" in text


def test_pianoroll_png_draws_each_note_in_its_track_color() -> None:
    import matplotlib.image

    score = Score([Track("A", 0, False, [Note(60, 80, 0, 480)]), Track("B", 0, False, [Note(64, 80, 480, 480)])])
    image = matplotlib.image.imread(io.BytesIO(pianoroll_png(score, 24, 6)), format="png")
    high = 64 + 2 + 8  # two pitches of room, then widened to MIN_PITCHES rows
    assert image.shape[:2] == (TOP_MARGIN + MIN_PITCHES * 6, LEFT_MARGIN + 2 * 24 + 1)
    row_c4, row_e4 = TOP_MARGIN + (high - 60) * 6 + 2, TOP_MARGIN + (high - 64) * 6 + 2
    assert np.allclose(image[row_c4, LEFT_MARGIN + 10, :3] * 255, (31, 119, 180), atol=1)
    assert np.allclose(image[row_e4, LEFT_MARGIN + 34, :3] * 255, (255, 127, 14), atol=1)
    assert np.allclose(image[row_e4, LEFT_MARGIN + 10, :3], 1.0)  # nothing there yet


def test_pianoroll_png_names_pitches_numbers_bars_and_shades_the_seed() -> None:
    import matplotlib.image

    bar = 1920
    score = Score([Track("A", 0, False, [Note(60 + 2 * k, 80, k * bar, bar) for k in range(8)])])
    png = pianoroll_png(score, 24, 6, seed_end_tick=2 * bar)
    image = np.round(matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(int)
    ink = (image == INK).all(axis=-1)
    low, high = 58 - 3, 76 + 3  # notes 60..74, two pitches of room, widened to MIN_PITCHES rows
    assert image.shape[0] == TOP_MARGIN + (high - low + 1) * 6 and high - low + 1 == MIN_PITCHES
    label_rows = [row for row in range(TOP_MARGIN, image.shape[0]) if ink[row, :LEFT_MARGIN].any()]
    named = {high - (row - TOP_MARGIN) // 6 for row in label_rows}
    assert {60, 72} <= named and all(abs(p - 60) <= 1 or abs(p - 72) <= 1 for p in named)  # beside each C
    pixels_per_bar = bar * 24 // 480
    numbered = [b for b in range(8) if ink[:TOP_MARGIN, LEFT_MARGIN + b * pixels_per_bar + 1:][:, :8].any()]
    assert numbered == list(range(8)) and image.shape[1] == LEFT_MARGIN + 8 * pixels_per_bar + 1  # 8 bars, not 9
    empty_row = TOP_MARGIN + (high - (low + 1)) * 6 + 2  # no note there
    assert tuple(image[empty_row, LEFT_MARGIN + pixels_per_bar + 5]) == SEED_SHADE
    assert tuple(image[empty_row, LEFT_MARGIN + 3 * pixels_per_bar + 5]) == (255, 255, 255)


def test_show_pianoroll_labels_octaves_and_tracks() -> None:
    figure = show_pianoroll(read_score(example_path()))
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["C3", "C4", "C5"]
    assert next(t.get_text() for t in axes.get_legend().get_texts()) == "Soprano (Acoustic Grand Piano)"
    assert len(axes.get_lines()) >= 10 + 4  # bar lines and legend handles


def test_play_returns_an_audio_player() -> None:
    from IPython.display import Audio

    player = read_score(example_path()).play(sample_rate=8000)
    assert isinstance(player, Audio) and player.data[:4] == b"RIFF"


def test_score_svg_engraves_every_note() -> None:
    score = Score([Track("Melody", 0, False, [Note(60 + 2 * i, 80, i * 480, 480) for i in range(4)])])
    svg = score_svg(score)
    assert svg.lstrip().startswith(("<?xml", "<svg")) and svg.count('class="note"') == 4
    assert "<svg" in str(read_score(example_path()).show_score().data)


def test_a_long_piece_is_squeezed_into_a_bounded_picture() -> None:
    import matplotlib.image

    from melodia.media.display import MAX_WIDTH

    score = Score([Track("T", 0, False, [Note(60, 80, 0, 480), Note(62, 80, 200_000 * 480, 480)])])
    image = matplotlib.image.imread(io.BytesIO(pianoroll_png(score)), format="png")
    assert image.shape[1] <= MAX_WIDTH + 1
