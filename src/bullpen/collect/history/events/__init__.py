"""Retrosheet play-by-play: rows, plays, the event-file parser, a season tarball, the store and
the loaders that read the tables back."""
