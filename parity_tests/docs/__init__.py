"""The documentation: its examples, quick start and notebook run."""
