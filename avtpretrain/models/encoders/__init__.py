"""Modality encoders, one file per family, looked up through `registry.ENCODERS`."""
