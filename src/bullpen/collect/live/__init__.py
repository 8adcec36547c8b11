"""Live collection: the MLB Stats API and The Odds API (each module fetches and parses its API),
the payload archive and the store that writes live rows; `collector` runs one collection."""
