"""The processes and the HTTP server that run the app."""
