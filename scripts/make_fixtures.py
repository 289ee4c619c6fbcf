"""Write the small test files under tests/data/, byte by byte with mido (not melodia's writer).

Each file covers one thing readers get wrong: drums, tempo changes, 3/4 and 6/8,
triplets, a pickup bar, overlapping notes of one pitch, a note never switched off,
running status, type 0 with several channels, an empty file and broken files.
Usage: python scripts/make_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import mido

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TPQ = 480


def track(*events: tuple[int, mido.Message | mido.MetaMessage]) -> mido.MidiTrack:
    """A track from (absolute tick, message) pairs."""
    result, now = mido.MidiTrack(), 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        result.append(message.copy(time=tick - now))
        now = tick
    result.append(mido.MetaMessage("end_of_track", time=0))
    return result


def notes(channel: int, spec: list[tuple[int, int, int]], velocity: int = 80) -> list[tuple[int, mido.Message]]:
    """(pitch, onset, duration) triples as note_on / note_off pairs."""
    out: list[tuple[int, mido.Message]] = []
    for pitch, onset, duration in spec:
        out.append((onset, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        out.append((onset + duration, mido.Message("note_off", channel=channel, note=pitch)))
    return out


def meta(tick: int, kind: str, **fields: object) -> tuple[int, mido.MetaMessage]:
    return tick, mido.MetaMessage(kind, **fields)


def scale(start: int, count: int, step: int, pitch: int = 60) -> list[tuple[int, int, int]]:
    major = [0, 2, 4, 5, 7, 9, 11, 12]
    return [(pitch + major[i % 8], start + i * step, step) for i in range(count)]


def save(name: str, *tracks: mido.MidiTrack, midi_type: int = 1) -> None:
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=TPQ)
    midi.tracks.extend(tracks)
    midi.save(DATA / name)


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    conductor = track(meta(0, "set_tempo", tempo=500_000), meta(0, "time_signature", numerator=4, denominator=4))
    kick_snare = [(36 if i % 2 == 0 else 38, i * TPQ, TPQ // 2) for i in range(8)]
    hats = [(42, i * TPQ // 2, TPQ // 4) for i in range(16)]
    save("drums.mid", conductor,
         track(meta(0, "track_name", name="Bass"), (0, mido.Message("program_change", channel=0, program=33)),
               *notes(0, [(36, 0, 960), (43, 960, 960), (41, 1920, 960), (36, 2880, 960)])),
         track(meta(0, "track_name", name="Kit"), *notes(9, kick_snare + hats, velocity=100)))
    save("tempo_changes.mid",
         track(meta(0, "set_tempo", tempo=500_000), meta(960, "set_tempo", tempo=400_000),
               meta(1920, "set_tempo", tempo=750_000), meta(0, "time_signature", numerator=4, denominator=4)),
         track(*notes(0, scale(0, 12, 240))))
    save("waltz_3_4.mid",
         track(meta(0, "time_signature", numerator=3, denominator=4), meta(0, "set_tempo", tempo=600_000),
               meta(0, "key_signature", key="G")),
         track((0, mido.Message("program_change", channel=0, program=40)),
               *notes(0, [(67, 0, 960), (71, 960, 480), (74, 1440, 1440), (72, 2880, 480),
                          (71, 3360, 480), (69, 3840, 480), (67, 4320, 1440)])))
    save("jig_6_8.mid",
         track(meta(0, "time_signature", numerator=6, denominator=8), meta(0, "key_signature", key="D")),
         track((0, mido.Message("program_change", channel=0, program=73)), *notes(0, scale(0, 24, 240, 62))))
    triplet = TPQ // 3
    save("triplets.mid", conductor,
         track(*notes(0, [(60 + i, i * triplet, triplet) for i in range(12)]),
               *notes(0, [(48, 0, 4 * TPQ)])))
    save("pickup.mid",
         track(meta(0, "time_signature", numerator=1, denominator=4),
               meta(TPQ, "time_signature", numerator=4, denominator=4), meta(0, "key_signature", key="F")),
         track(*notes(0, [(60, 0, 480), (65, 480, 960), (67, 1440, 480), (69, 1920, 960), (65, 2880, 960)])))
    # overlapping notes of one pitch, a note never switched off, note_on velocity 0 as note-off
    overlapping = track(
        (0, mido.Message("note_on", channel=0, note=60, velocity=90)),
        (240, mido.Message("note_on", channel=0, note=60, velocity=70)),
        (480, mido.Message("note_on", channel=0, note=60, velocity=0)),
        (720, mido.Message("note_off", channel=0, note=60)),
        (960, mido.Message("note_on", channel=0, note=64, velocity=80)),
        (1440, mido.Message("note_on", channel=0, note=64, velocity=0)),
        (1440, mido.Message("note_on", channel=0, note=67, velocity=80)),  # never switched off
        (1920, mido.Message("note_on", channel=0, note=72, velocity=80)),
        (2400, mido.Message("note_off", channel=0, note=72)))
    save("overlapping.mid", conductor, overlapping)
    # type 0: one track, three channels, program changes; mido writes running status
    save("type0_channels.mid",
         track(meta(0, "set_tempo", tempo=545_455), meta(0, "time_signature", numerator=2, denominator=4),
               (0, mido.Message("program_change", channel=0, program=0)),
               (0, mido.Message("program_change", channel=1, program=32)),
               *notes(0, scale(0, 8, 240, 72)), *notes(1, [(36, 0, 960), (43, 960, 960)]),
               *notes(9, [(42, i * 240, 120) for i in range(8)])), midi_type=0)
    save("empty.mid", track(meta(0, "set_tempo", tempo=500_000)))
    whole = (DATA / "drums.mid").read_bytes()
    (DATA / "corrupt_truncated.mid").write_bytes(whole[: len(whole) // 2])
    (DATA / "not_midi.mid").write_bytes(b"This is a text file, not a standard MIDI file.\n")
    zero = bytearray((DATA / "waltz_3_4.mid").read_bytes())
    zero[12:14] = b"\x00\x00"
    (DATA / "zero_division.mid").write_bytes(bytes(zero))
    absurd = bytearray((DATA / "waltz_3_4.mid").read_bytes())
    absurd[10:12] = b"\xff\xff"  # claims 65535 tracks
    (DATA / "absurd_track_count.mid").write_bytes(bytes(absurd))
    huge_delta = track(*notes(0, [(60, 0, 240)]))
    huge_delta.insert(0, mido.MetaMessage("text", text="far", time=0x0FFFFFFF))
    save("absurd_ticks.mid", huge_delta)
    for path in sorted(DATA.iterdir()):
        print(path.relative_to(DATA.parent.parent))


if __name__ == "__main__":
    main()
