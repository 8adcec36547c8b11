"""Historical seasons: the SBR odds and Retrosheet parsers, the season merge, their stores and
the replay that loads the bundled files (`events/` holds the Retrosheet play-by-play)."""
