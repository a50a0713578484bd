"""The audio chain probe: the active sweep test and its analysis (pure numpy)."""
