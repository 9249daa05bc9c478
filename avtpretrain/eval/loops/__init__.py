"""Evaluation loops: they run the model over data on every rank and feed the pure metrics."""
