"""Architecture only: encoders, fusion and the model joining them; no losses, ranks or engines."""
