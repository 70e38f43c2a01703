"""The suite's own shape: argument coverage, the bug catalogue, no test file importing another."""
