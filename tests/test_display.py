"""Notebook helpers and audio: HTML summary, piano rolls, the synthesizers, notation."""

from __future__ import annotations

import io
import os
import stat
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from melodia.display import (
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
from melodia.io import read_score
from melodia.resources import example_path
from melodia.score import Note, Score, Track
from melodia.synth import FAMILY_TIMBRES, engine, render, synthesize, wav_bytes, write_wav


def one_note(pitch: int = 69, program: int = 0, is_drum: bool = False, quarters: int = 2) -> Score:
    return Score([Track("T", program, is_drum, [Note(pitch, 100, 0, quarters * 480)])])


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


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("family", range(16))
def test_builtin_synth_sounds_the_note_in_every_family(family: int) -> None:
    samples = synthesize(one_note(69, program=family * 8), 22050)
    assert samples.dtype == np.float32 and 0.5 < np.abs(samples).max() <= 0.9 + 1e-6
    assert abs(dominant_frequency(samples[:22050], 22050) - 440) < 3


def test_families_sound_different() -> None:
    spectra = [np.abs(np.fft.rfft(synthesize(one_note(57, program=f * 8))[:22050])) for f in range(16)]
    shapes = [s / np.linalg.norm(s) for s in spectra]
    assert len(FAMILY_TIMBRES) == 16
    assert max(float(a @ b) for i, a in enumerate(shapes) for b in shapes[i + 1:]) < 0.999


def test_builtin_drums_kick_is_low_and_hat_is_bright() -> None:
    kick = synthesize(one_note(36, is_drum=True, quarters=1))
    hat = synthesize(one_note(42, is_drum=True, quarters=1))
    assert dominant_frequency(kick[:4096], 22050) < 150
    assert dominant_frequency(hat[:2048], 22050) > 2000


def test_tempo_map_places_notes_in_time() -> None:
    score = read_score(Path(__file__).parent / "data" / "tempo_changes.mid")
    samples, rate = render(score, 8000, use_fluidsynth=False)
    assert abs(len(samples) / rate - (score.duration_seconds() + 1.0)) < 0.01


def test_write_wav_is_a_playable_file(tmp_path: Path) -> None:
    score = read_score(example_path())
    path = write_wav(score, tmp_path / "bach.wav", sample_rate=8000)  # FluidSynth's where installed
    with wave.open(str(path)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
        assert score.duration_seconds() <= reader.getnframes() / 8000 < score.duration_seconds() + 3
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    assert abs(int(np.abs(samples).max()) - round(0.9 * 32767)) <= 1  # normalized either way


def test_fluidsynth_is_used_when_installed_with_a_soundfont(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `fluidsynth` on PATH checks the command line melodia gives the real one."""
    fake = tmp_path / "fluidsynth"
    fake.write_text(f"#!{sys.executable}\n" + """import sys, wave
args = sys.argv[1:]
assert args[:2] == ["-ni", "-g"] and args[-2].endswith(".sf2") and args[-1].endswith(".mid")
with wave.open(args[args.index("-F") + 1], "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(int(args[args.index("-r") + 1]))
    w.writeframes(b"\\x00\\x40" * 2 * 1000)
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    soundfont = tmp_path / "gm.sf2"
    soundfont.write_bytes(b"RIFF")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MELODIA_SOUNDFONT", str(soundfont))
    samples, rate = render(one_note(), 16000)
    assert rate == 16000 and len(samples) == 1000 and np.allclose(samples, 0.9)  # normalized like the built-in
    assert engine() == f"FluidSynth with {soundfont}"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no fluidsynth at all
    assert len(render(one_note(), 16000)[0]) > 1000 and engine() == "the built-in synthesizer"


def test_wav_bytes_round_trip() -> None:
    data = wav_bytes(np.array([0.0, 0.5, -0.5, 1.0], dtype=np.float32), 8000)
    with wave.open(io.BytesIO(data)) as reader:
        frames = np.frombuffer(reader.readframes(4), dtype="<i2")
    assert frames.tolist() == [0, 16383, -16383, 32767]


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

    from melodia.display import MAX_WIDTH

    score = Score([Track("T", 0, False, [Note(60, 80, 0, 480), Note(62, 80, 200_000 * 480, 480)])])
    image = matplotlib.image.imread(io.BytesIO(pianoroll_png(score)), format="png")
    assert image.shape[1] <= MAX_WIDTH + 1
