"""What a score looks and sounds like: piano rolls and notation (display), audio (synth), playback (play)."""
