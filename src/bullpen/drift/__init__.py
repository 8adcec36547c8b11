"""Drift of features, predictions and performance between a champion's reference and now."""
