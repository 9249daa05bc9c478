"""What the offline writer and the training-time reader agree on: the shard format and the batch.

Standard library only, so that either side can import it without pulling in the other.
"""
