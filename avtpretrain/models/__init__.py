"""Architecture only: encoders, fusion and the model that joins them. No losses, ranks or engines."""
