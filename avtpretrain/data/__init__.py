"""Data: the shard format, sharding raw media, and (later) streaming shards into batches."""
