"""The DeepSpeed side: the only package that imports deepspeed."""
