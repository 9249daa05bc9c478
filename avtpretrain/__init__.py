"""avtpretrain: audio + video + text pretraining on WebDataset shards with DeepSpeed."""

__version__ = "0.1.0"
