"""Ways to show runs: terminal tables here; files and HTML later."""
