"""What a score looks and sounds like: piano rolls and notation (display), audio (synth), playback (play),
and a score written as a file by its suffix (render)."""
