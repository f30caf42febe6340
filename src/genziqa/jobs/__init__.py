"""Scoring many files: decoding workers and error rows, loading a model for scoring (one
function for the CLI, the service, Ray actors and evaluation), speed presets, shards."""
