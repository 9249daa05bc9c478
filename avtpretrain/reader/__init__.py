"""Training time: shard specs → named-stage stream (the only webdataset importer) → decode → batch;
plus downstream annotations and video-by-id indexes for finetuning and evaluation."""
