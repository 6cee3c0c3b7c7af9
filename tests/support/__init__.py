"""Helpers shared by the test suites: free ports, polling, and real processes stopped by pid."""
