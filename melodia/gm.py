"""General MIDI program names and families (program numbers are 0-based)."""

from __future__ import annotations

PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)


def program_name(program: int, is_drum: bool = False) -> str:
    """The General MIDI name of `program`, or "Drums" for a drum track."""
    return "Drums" if is_drum else PROGRAM_NAMES[program]


# Playable ranges (lowest, highest MIDI pitch) of common melody instruments, from standard
# orchestration references; `--instrument` keeps generated notes inside them.
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "piano": (21, 108), "violin": (55, 103), "viola": (48, 91), "cello": (36, 76), "double-bass": (28, 67),
    "flute": (60, 96), "piccolo": (74, 108), "oboe": (58, 91), "clarinet": (50, 94), "bassoon": (34, 75),
    "alto-sax": (49, 81), "tenor-sax": (44, 76), "trumpet": (54, 86), "horn": (34, 77), "trombone": (40, 72),
    "tuba": (28, 58), "guitar": (40, 88), "bass-guitar": (28, 67), "harp": (24, 103), "recorder": (72, 98),
    "tin-whistle": (74, 98), "fiddle": (55, 100), "accordion": (53, 93), "soprano": (60, 81), "alto": (53, 74),
    "tenor": (48, 69), "baritone": (43, 65), "bass": (40, 64),
}

# Playable range of each General MIDI family (lowest, highest MIDI pitch), and of programs
# whose range differs much from their family's; style templates fold notes into these.
FAMILY_RANGES: tuple[tuple[int, int], ...] = (
    (21, 108), (60, 108), (36, 96), (40, 88), (28, 67), (36, 96), (36, 96), (40, 84),
    (44, 84), (60, 96), (36, 96), (36, 96), (36, 96), (48, 88), (36, 84), (36, 96),
)
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    6: (29, 89), 8: (60, 108), 9: (79, 108), 11: (53, 89), 12: (45, 96), 13: (65, 108), 14: (60, 77),
    21: (53, 93), 22: (60, 84), 24: (40, 83), 25: (40, 83), 40: (55, 103), 41: (48, 91), 42: (36, 76),
    43: (28, 67), 45: (36, 96), 46: (24, 103), 47: (36, 57), 52: (48, 79), 53: (48, 79),
    56: (54, 86), 57: (40, 72), 58: (28, 58), 59: (54, 84), 60: (34, 77), 61: (40, 82),
    64: (56, 87), 65: (49, 81), 66: (44, 76), 67: (36, 69), 68: (58, 91), 69: (52, 81), 70: (34, 75),
    71: (50, 94), 72: (74, 108), 73: (60, 96), 74: (60, 96), 75: (60, 96), 78: (72, 96), 79: (60, 84),
    105: (48, 84), 109: (58, 84), 110: (55, 100),
}


def program_range(program: int) -> tuple[int, int]:
    """The playable range (lowest, highest MIDI pitch) of General MIDI `program`."""
    return PROGRAM_RANGES.get(program, FAMILY_RANGES[program // 8])


def program_number(text: str) -> int | None:
    """The program (0-127) whose General MIDI name is `text`, ignoring case; None if none is."""
    wanted = text.strip().lower()
    return next((number for number, name in enumerate(PROGRAM_NAMES) if name.lower() == wanted), None)
