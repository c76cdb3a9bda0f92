"""What the user writes: the config, its schema and defaults, targets, `promptc init`, output paths."""
