"""roomhub: the district hub."""
