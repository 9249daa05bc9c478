"""Offline: manifest → transcode → build one sample → crash-safe shard writer → make_shards CLI."""
