"""Built-in demo data: a small, learnable, tri-modal dataset laid out as a user's raw data is."""
