"""Examples and splits: reading data files, `promptc split`, the leak check."""
