"""Pure loss functions: tensors in, a scalar (and what it needs to report) out."""
