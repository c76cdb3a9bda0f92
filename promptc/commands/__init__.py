"""What each command does, as functions a Python caller can use too."""
