"""Helpers the tests and the bench share."""
