"""The betting market: Odds API events linked to games, and game lines derived from snapshots."""
