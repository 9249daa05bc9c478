"""Tasks: a model plus its objectives (and heads) as one module returning (loss, metrics)."""
